"""Names with constraints and the most likely words: every word meets the constraints, constrained samples follow
the model's distribution given them, and `top` is the exact order that brute-force enumeration gives."""

import itertools
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from helpers import Project, assert_every_constraint_holds, call, default_words, meets

from makemore import cli
from makemore.api import Trained
from makemore.models import FAMILIES
from makemore.models.contexts import Positions
from makemore.models.interface import FitData
from makemore.models.mixture import Mixture, MixtureConfig
from makemore.models.ngram import NGramConfig
from makemore.models.scoring import word_log_likelihoods
from makemore.vocab import Vocabulary

TINY = ["ab", "ba", "aab", "b", "abba", "a", "bab", "bb", "aba"]


def trained_count(words: list[str], order: int = 2, k: float = 0.5) -> Trained:
    vocab = Vocabulary.from_words(words)
    config = NGramConfig(family="ngram", order=order, smoothing="additive", k=k)
    positions = Positions.of(vocab, words)
    model = FAMILIES["ngram"].fit(config, FitData(vocab, positions, positions, 50)).model
    return Trained("toy", model, Path("toy/vocab.json"), "sha256")


def brute_force(trained: Trained, longest: int) -> dict[str, float]:
    """Every word of at most `longest` characters of the vocabulary, with its log-probability summed position by
    position through the scoring of the evaluate stage."""
    chars = trained.model.vocab.chars
    words = [
        "".join(letters) for n in range(1, longest + 1) for letters in itertools.product(chars, repeat=n)
    ]
    totals, _ = word_log_likelihoods(trained.model, Positions.of(trained.model.vocab, words))
    return dict(zip(words, totals.tolist()))


@pytest.mark.parametrize("per_token", [False, True])
@pytest.mark.parametrize(
    "constraints",
    [
        {},
        {"prefix": "ab"},
        {"suffix": "ba", "length": "3:8"},
        {"contains": "bb", "prefix": "b"},
        {"length": "4:5"},
    ],
)
def test_top_is_the_order_of_brute_force_enumeration(constraints, per_token, tmp_path):
    trained = trained_count(TINY, order=3)
    excluded = tmp_path / "exclude.txt"
    excluded.write_text("abab\nbaba\nab\n")  # words that would be near the top otherwise
    given = {"length": "1:8"} | constraints | {"exclude": str(excluded)}  # brute force enumerates up to 8
    top = trained.top(12, per_token, **given)

    shortest, longest = map(int, given["length"].split(":"))
    candidates = {
        word: log_p
        for word, log_p in brute_force(trained, 8).items()
        if word.startswith(given.get("prefix", ""))
        and word.endswith(given.get("suffix", ""))
        and given.get("contains", "") in word
        and shortest <= len(word) <= longest
        and word not in {"abab", "baba", "ab"}
    }

    def key(word: str) -> float:
        return -candidates[word] / (len(word) + 1) if per_token else -candidates[word]

    expected = sorted(candidates, key=key)[:12]
    assert len(top) == 12 and top["word"].is_unique and set(top["word"]) <= set(candidates)
    # the same keys in the same order (words of equal key may come in either order)
    assert [key(word) for word in top["word"]] == pytest.approx([key(word) for word in expected], abs=1e-9)
    assert top["log_p"].tolist() == pytest.approx([candidates[word] for word in top["word"]], abs=1e-9)
    assert top["nll"].tolist() == pytest.approx(
        [-candidates[w] / (len(w) + 1) for w in top["word"]], abs=1e-9
    )


def chi_squared_p_value(first: list[str], second: list[str]) -> float:
    """The p-value of Pearson's chi-squared test that two samples of categories come from one distribution."""
    categories = sorted(set(first) | set(second))
    table = torch.tensor(
        [[sample.count(category) for category in categories] for sample in (first, second)],
        dtype=torch.float64,
    )
    expected = table.sum(1, keepdim=True) * table.sum(0, keepdim=True) / table.sum()
    statistic = ((table - expected) ** 2 / expected).sum()
    degrees = len(categories) - 1
    return torch.special.gammaincc(torch.tensor(degrees / 2, dtype=torch.float64), statistic / 2).item()


@pytest.fixture(scope="module")
def drawn_freely() -> tuple[Trained, list[str]]:
    """A bigram of 5,000 names, and 60,000 words it draws with no constraint."""
    trained = trained_count(default_words()[:5000], order=2, k=1.0)
    return trained, trained.sample(60_000, seed=3)


@pytest.mark.parametrize(
    "constraints",
    [
        {"prefix": "ma", "length": "4:7"},  # the prefix is drawn after, the length cut short at MAX + 1
        {"suffix": "a", "contains": "n", "exclude": ["anna", "ana", "nia"]},  # rejection alone
    ],
)
def test_constrained_samples_follow_the_unconstrained_ones_filtered_by_the_constraints(
    constraints, drawn_freely, tmp_path
):
    trained, unconstrained = drawn_freely
    excluded = constraints.get("exclude", [])
    (tmp_path / "exclude.txt").write_text("".join(f"{word}\n" for word in excluded))
    given = constraints | ({"exclude": str(tmp_path / "exclude.txt")} if excluded else {})
    filtered = [word for word in unconstrained if meets(word, constraints, set(), excluded, max_len=50)]
    drawn = trained.samples(2000, seed=4, **given)
    constrained = list(drawn)
    assert len(filtered) > 500 and all(meets(word, constraints, set(), excluded, 50) for word in constrained)
    assert drawn.kept == 2000 and drawn.drawn > 2000 and drawn.rate == 2000 / drawn.drawn
    for statistic in (len, lambda word: word[2:3], lambda word: word[-2:-1]):
        assert chi_squared_p_value(list(map(statistic, filtered)), list(map(statistic, constrained))) > 1e-3
    # the same seed, the same words; a seed's first words the same for any num
    assert trained.sample(20, seed=4, **given) == constrained[:20]


def test_a_constraint_no_word_can_meet_is_refused_in_one_line_before_any_draw(tmp_path):
    trained = trained_count(TINY)
    with pytest.raises(Exception, match="prefix = 'aaaaaa' has 6 characters: no word of at most 3 has it"):
        trained.samples(5, prefix="aaaaaa", length="1:3")
    with pytest.raises(Exception, match="'z' is not a character of the vocabulary"):
        trained.top(5, suffix="z")
    with pytest.raises(Exception, match="none of the first 10,000 words drawn meets the constraints"):
        list(trained.samples(5, prefix="a", length="30:40", max_len=50))
    with pytest.raises(Exception, match="novel: the data file"):
        trained.top(5, novel=True)


@pytest.fixture(scope="module")
def shared(reproduced_template) -> Project:
    return Project(reproduced_template)


def makemore(project: Project, *args: str) -> tuple[int, str, str]:
    result = call(lambda: cli.main(list(args)), project.path)
    return result.returncode, result.stdout, result.stderr


def test_top_lists_the_most_likely_words_and_novel_ones_are_no_line_of_the_data(shared):
    code, out, err = makemore(shared, "top", "--model", "kneser_ney", "--num", "20")
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()[2:]]
    assert [int(row[0]) for row in rows] == list(range(1, 21))
    probabilities = [float(row[2]) for row in rows]
    assert probabilities == sorted(probabilities, reverse=True)
    data = set((shared.path / "data/names.txt").read_text().split())
    code, out, err = makemore(
        shared, "top", "--model", "kneser_ney", "--num", "5", "--novel", "--prefix", "ma", "--length", "5:7"
    )
    novel = [line.split()[1] for line in out.splitlines()[2:]]
    assert code == 0 and len(novel) == 5, err
    assert all(word.startswith("ma") and 5 <= len(word) <= 7 and word not in data for word in novel)


def test_sample_with_constraints_says_how_many_draws_it_took(shared):
    code, out, err = makemore(
        shared, "sample", "--model", "kneser_ney", "--num", "10", "--prefix", "ma", "--suffix", "a",
        "--length", "5:7", "--novel",
    )  # fmt: skip
    data = set((shared.path / "data/names.txt").read_text().split())
    words = out.split()
    assert code == 0 and len(words) == 10, err
    assert all(w.startswith("ma") and w.endswith("a") and 5 <= len(w) <= 7 and w not in data for w in words)
    assert err.startswith("10 of ") and "words drawn met the constraints" in err


def test_score_file_ranks_a_users_words_best_first_and_a_bad_line_is_named(shared, tmp_path):
    candidates = tmp_path / "candidates.txt"
    candidates.write_text("zzzq\nemma\n\nolivia\nemma\n")
    code, out, err = makemore(shared, "score", "--file", str(candidates), "--model", "kneser_ney")
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()[2:]]
    assert [row[0] for row in rows][-1] == "zzzq" and sorted(row[0] for row in rows) == [
        "emma",
        "olivia",
        "zzzq",
    ]
    nlls = [float(row[1]) for row in rows]
    assert nlls == sorted(nlls)
    expected = -shared_score(shared, "emma")
    assert nlls[[row[0] for row in rows].index("emma")] == pytest.approx(expected, abs=1e-4)
    candidates.write_text("emma\nEmma\n")
    code, out, err = makemore(shared, "score", "--file", str(candidates))
    assert code == 1 and err.splitlines() == [
        f"error: {candidates}:2: cannot score 'Emma': character 'E' is not in the vocabulary (data/prepared/vocab.json)"
    ]


def shared_score(project: Project, word: str) -> float:
    """The mean log p per token of a word under the Kneser-Ney model, from `makemore score`'s table."""
    code, out, _ = makemore(project, "score", word, "--model", "kneser_ney")
    head = out.splitlines()[0]
    return -float(head.rsplit(" ", 1)[1].rstrip(")"))


def test_an_impossible_constraint_gets_one_line_from_the_cli(shared):
    for command in ("top", "sample"):
        code, out, err = makemore(
            shared, command, "--model", "kneser_ney", "--prefix", "zzzzzz", "--length", "1:3"
        )
        assert (code, out) == (1, "") and err.splitlines() == [
            "error: kneser_ney: the constraints: prefix = 'zzzzzz' has 6 characters: no word of at most 3 has it"
        ]
        code, out, err = makemore(shared, command, "--model", "kneser_ney", "--length", "5")
        assert (code, out) == (1, "") and err.splitlines() == [
            "error: kneser_ney: the constraints: length = '5' is invalid: give MIN:MAX, either one may be left out "
            "(5:7, 5:, :7)"
        ]


def test_top_says_when_no_word_or_fewer_words_than_asked_meet_the_constraints(shared):
    # one-character words that start with q and end with z: none
    code, out, err = makemore(
        shared, "top", "--model", "count", "--length", "1:1", "--prefix", "q", "--suffix", "z"
    )
    assert (code, out, err) == (1, "", "error: count: no word it can give meets the constraints\n")
    letters = {char for word in default_words() for char in word}
    code, out, err = makemore(shared, "top", "--model", "count", "--num", "100", "--length", "1:1")
    assert code == 0 and {line.split()[1] for line in out.splitlines()[2:]} == letters
    assert err == f"only {len(letters)} words it can give meet the constraints\n"


@pytest.fixture(scope="module")
def names(tmp_path_factory) -> tuple[Path, list[str], list[str]]:
    """A data file of 2,000 names (what novel excludes), 500 others to validate on, and 200 of the data to exclude."""
    words = default_words()
    data_file = tmp_path_factory.mktemp("names") / "names.txt"
    data_file.write_text("".join(f"{word}\n" for word in words[:2000]), encoding="utf-8")
    return data_file, words[:2500], words[1000:1200]


COUNT_FAMILIES = {
    "additive": {"family": "ngram", "order": 3, "smoothing": "additive", "k": 0.5},
    "kneser_ney": {"family": "ngram", "order": 4, "smoothing": "kneser_ney"},
    "onelayer": {"family": "onelayer", "order": 2, "lr": 50, "steps": 50, "reg": 0.01, "seed": 1},
}


@pytest.mark.parametrize("family", [*COUNT_FAMILIES, "mixture"])
def test_every_constraint_holds_on_every_count_family_and_the_mixture(family, names, tmp_path):
    data_file, words, excluded = names
    vocab = Vocabulary.from_words(words)
    data = FitData(vocab, Positions.of(vocab, words[:2000]), Positions.of(vocab, words[2000:]), 50)
    fitted = {
        name: FAMILIES[config["family"]]
        .fit(FAMILIES[config["family"]].Config.model_validate(config), data)
        .model
        for name, config in COUNT_FAMILIES.items()
        if name == family or family == "mixture"
    }
    if family == "mixture":
        config = MixtureConfig(family="mixture", of=list(fitted))
        fitted = {family: Mixture.fit(config, replace(data, trained=fitted)).model}
    trained = Trained(family, fitted[family], Path("vocab.json"), "sha256", data_file=data_file)
    assert_every_constraint_holds(trained, excluded, tmp_path, max_len=50)
