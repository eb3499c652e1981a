"""The model families through their one interface, each against an independent computation."""

import pytest
import torch
import yaml
from helpers import ROOT, additive_nll, default_words
from kneser_ney_reference import B, KneserNey

from makemore import artifacts
from makemore.evaluate import score
from makemore.models import FAMILIES
from makemore.models.contexts import Positions, SplitFile
from makemore.models.files import load_model, save_model
from makemore.models.interface import FitData
from makemore.models.ngram import NGramConfig
from makemore.models.onelayer import OneLayerConfig, data_loss
from makemore.sampling import generate
from makemore.splits import split_words
from makemore.vocab import Vocabulary

DEFAULT_PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
MAX_LEN = DEFAULT_PARAMS["data"]["max_len"]
TOY = [
    "emma",
    "ava",
    "anna",
    "emily",
    "amelia",
    "mia",
    "liam",
    "william",
    "ella",
    "bella",
    "bill",
    "lily",
    "milly",
    "ian",
    "nina",
    "lena",
    "alan",
    "allan",
    "ellen",
    "helen",
    "lea",
    "leah",
    "hannah",
    "anne",
    "ann",
    "elena",
]


@pytest.fixture(scope="module")
def splits() -> tuple[Vocabulary, dict[str, list[str]]]:
    """The default data split as the pipeline splits it."""
    words = default_words()
    split = DEFAULT_PARAMS["split"]
    return Vocabulary.from_words(words), split_words(
        words, {s: split[s] for s in ("train", "val", "test")}, split["seed"]
    )


def all_contexts(positions: Positions, length: int) -> torch.Tensor:
    return positions.contexts(length, torch.arange(len(positions)))


def fit(config, vocab, train, val=None):
    family = FAMILIES[config.family]
    return family.fit(
        config, FitData(vocab, Positions.of(vocab, train), Positions.of(vocab, val or train), MAX_LEN)
    )


def probs_of(model, contexts: torch.Tensor) -> torch.Tensor:
    return model.log_probs(contexts).double().exp()


def first_instance(family: str) -> dict:
    return next(params for params in DEFAULT_PARAMS["models"].values() if params["family"] == family)


@pytest.mark.parametrize(
    "family", sorted(set(FAMILIES) - {"mixture"})
)  # tests/test_mixture.py's: it mixes these
def test_every_family_fits_round_trips_evaluates_and_samples_through_the_interface(family, tmp_path):
    assert family in {params["family"] for params in DEFAULT_PARAMS["models"].values()}, (
        "give it an instance in params.yaml"
    )
    params = first_instance(family)
    fields = FAMILIES[family].Config.model_fields  # tiny and fast, for a family trained step by step
    params |= {
        key: value for key, value in {"steps": 5, "warmup": 1, "eval_every": 5}.items() if key in fields
    }
    words = default_words()
    train, val = words[:400], words[400:500]
    vocab = Vocabulary.from_words(words[:500])
    config = FAMILIES[family].Config.model_validate(params)
    training = fit(config, vocab, train, val)
    save_model(tmp_path / "model.pt", training.model, "model")
    loaded = load_model(tmp_path / "model.pt", vocab, "model")

    val_positions = Positions.of(vocab, val)
    contexts = all_contexts(val_positions, loaded.context_length)
    log_probs = loaded.log_probs(contexts)
    assert torch.equal(log_probs, training.model.log_probs(contexts))
    assert torch.allclose(
        log_probs.double().exp().sum(1), torch.ones(len(contexts), dtype=torch.float64), atol=1e-5
    )
    # evaluate's NLL is the mean of -log p over every position, computed here position by position
    expected = -log_probs.double()[torch.arange(len(contexts)), val_positions.targets].mean().item()
    assert score(loaded, val_positions)["nll"] == pytest.approx(expected, abs=1e-6)
    assert training.curve and {"step", "train", "val"} <= set(training.curve[0])

    samples = [vocab.decode(ids) for ids in generate(loaded, 30, seed=1, max_len=20)]
    assert len(samples) == 30 and all(len(word) <= 20 for word in samples)
    assert samples == [vocab.decode(ids) for ids in generate(loaded, 30, seed=1, max_len=20)]


def test_the_trigram_count_model_equals_python_counters(splits):
    vocab, split = splits
    params = DEFAULT_PARAMS["models"]["trigram"]
    model = fit(NGramConfig.model_validate(params), vocab, split["train"]).model
    for name in ("train", "val", "test"):
        expected = additive_nll(split["train"], split[name], 3, params["k"], vocab.size)
        assert score(model, Positions.of(vocab, split[name]))["nll"] == pytest.approx(expected, abs=1e-4), (
            name
        )


@pytest.mark.parametrize("discounts", [None, [0.6, 1.1, 1.9]])
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_kneser_ney_equals_a_plain_python_implementation_on_a_toy_corpus(order, discounts):
    vocab = Vocabulary.from_words(TOY)
    model = fit(
        NGramConfig(family="ngram", order=order, smoothing="kneser_ney", discounts=discounts), vocab, TOY
    ).model
    reference = KneserNey(TOY, order, [B, *vocab.chars], discounts=discounts)
    # every context seen in training, and some never seen, against every token
    seen = all_contexts(Positions.of(vocab, TOY), order - 1)
    random = torch.randint(0, vocab.size, (300, order - 1), generator=torch.Generator().manual_seed(order))
    contexts = torch.cat([seen, random]).unique(dim=0) if order > 1 else seen[:1]
    probs = probs_of(model, contexts)
    labels = [B, *vocab.chars]
    expected = torch.tensor(
        [
            [reference.prob(tuple(labels[i] for i in row), token) for token in labels]
            for row in contexts.tolist()
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(probs, expected, rtol=1e-9, atol=1e-12)
    assert torch.allclose(probs.sum(1), torch.ones(len(contexts), dtype=torch.float64), atol=1e-12)
    # the probabilities of given tokens (evaluation's path) are those entries, computed without the whole rows
    rows, tokens = (
        torch.arange(len(contexts)).repeat_interleave(vocab.size),
        torch.arange(vocab.size).repeat(len(contexts)),
    )
    torch.testing.assert_close(
        model.log_probs_of(contexts[rows], tokens).exp(), expected[rows, tokens], rtol=1e-9, atol=1e-12
    )


def test_every_distribution_of_a_kneser_ney_model_sums_to_1_seen_or_not(splits):
    vocab, split = splits
    model = fit(
        NGramConfig(family="ngram", order=5, smoothing="kneser_ney"), vocab, split["train"][:3000]
    ).model
    seen = all_contexts(Positions.of(vocab, split["train"][:3000]), 4).unique(dim=0)
    random = torch.randint(0, vocab.size, (2000, 4), generator=torch.Generator().manual_seed(0))
    probs = probs_of(model, torch.cat([seen, random]))
    assert (probs > 0).all()
    assert torch.allclose(probs.sum(1), torch.ones(len(probs), dtype=torch.float64), atol=1e-9)


def test_an_ngram_model_stores_the_ngrams_that_occur_not_v_to_the_order():
    chars = [chr(0x4E00 + i) for i in range(3000)]  # 3,000 CJK characters: V ** 8 would be 6.6e27 n-grams
    generator = torch.Generator().manual_seed(0)
    words = [
        "".join(chars[i] for i in torch.randint(0, 3000, (int(n),), generator=generator).tolist())
        for n in torch.randint(3, 12, (600,), generator=generator)
    ]
    vocab = Vocabulary.from_words(words)
    training = fit(NGramConfig(family="ngram", order=8, smoothing="kneser_ney"), vocab, words)
    positions = Positions.of(vocab, words)
    assert training.summary["ngrams_stored"] <= 8 * len(positions)
    probs = probs_of(training.model, all_contexts(positions, 7)[:50])
    assert torch.allclose(probs.sum(1), torch.ones(50, dtype=torch.float64), atol=1e-9)


def test_the_onelayer_loss_over_distinct_contexts_equals_the_lectures_per_example_one_hot_loss():
    words = default_words()[:2000]
    vocab = Vocabulary.from_words(words)
    training = fit(OneLayerConfig(family="onelayer", order=3, lr=1, steps=1, reg=0, seed=0), vocab, words)
    model = training.model
    positions = Positions.of(vocab, words)
    W = torch.randn(model.W.shape, generator=torch.Generator().manual_seed(1), requires_grad=True)

    # the lecture's formulation: one one-hot row per position, over the seen contexts
    ids = model.index.lookup(all_contexts(positions, 2))[-1]
    logits = torch.nn.functional.one_hot(ids, len(W)).float() @ W
    one_hot_loss = -logits.log_softmax(dim=1)[torch.arange(len(ids)), positions.targets].mean()
    (one_hot_grad,) = torch.autograd.grad(one_hot_loss, W)

    counts = torch.zeros(W.shape).index_put_((ids, positions.targets), torch.ones(len(ids)), accumulate=True)
    counts_loss = data_loss(W, counts)
    (counts_grad,) = torch.autograd.grad(counts_loss, W)
    assert counts_loss.item() == pytest.approx(one_hot_loss.item(), rel=1e-5)
    assert torch.allclose(counts_grad, one_hot_grad, atol=1e-7, rtol=1e-4)


def test_gradient_descent_without_reg_arrives_at_the_count_model():
    names = default_words()
    vocab = Vocabulary.from_words(names)
    training = fit(
        OneLayerConfig(family="onelayer", order=2, lr=50, steps=2000, reg=0, seed=2147483647), vocab, names
    )
    optimum = additive_nll(names, names, 2, 0, vocab.size)  # the maximum-likelihood bigram NLL
    assert training.curve[0]["train"] > optimum + 1  # it started far away
    assert training.curve[-1]["optimum"] == pytest.approx(optimum, abs=1e-6)
    # nothing beats maximum likelihood on its own data
    assert 0 <= training.curve[-1]["train"] - optimum < 0.01
    assert score(training.model, Positions.of(vocab, names))["nll"] == pytest.approx(
        training.curve[-1]["train"], abs=1e-5
    )


def test_the_training_curve_records_train_and_val_nll_and_reg_costs_train_nll():
    names = default_words()
    vocab = Vocabulary.from_words(names)
    train, val = names[:5000], names[5000:6000]
    plain = fit(OneLayerConfig(family="onelayer", order=2, lr=50, steps=30, reg=0, seed=1), vocab, train, val)
    regular = fit(
        OneLayerConfig(family="onelayer", order=2, lr=50, steps=30, reg=1.0, seed=1), vocab, train, val
    )
    assert [row["step"] for row in plain.curve] == list(range(31))
    assert plain.curve[-1]["train"] < plain.curve[0]["train"]
    last = plain.curve[-1]
    assert (last["train"], last["val"]) == pytest.approx(
        (
            score(plain.model, Positions.of(vocab, train))["nll"],
            score(plain.model, Positions.of(vocab, val))["nll"],
        ),
        abs=1e-5,
    )
    assert regular.model.W.pow(2).mean() < plain.model.W.pow(2).mean()
    assert regular.curve[-1]["train"] > plain.curve[-1]["train"]


def test_a_context_the_net_never_saw_gets_the_uniform_distribution():
    vocab = Vocabulary.from_words(TOY)
    model = fit(OneLayerConfig(family="onelayer", order=3, lr=10, steps=5, reg=0, seed=0), vocab, TOY).model
    pairs = torch.cartesian_prod(torch.arange(vocab.size), torch.arange(vocab.size))
    seen = {tuple(row) for row in all_contexts(Positions.of(vocab, TOY), 2).tolist()}
    never = torch.tensor([row for row in pairs.tolist() if tuple(row) not in seen])
    assert 0 < len(never) < len(pairs)
    assert (model.index.lookup(never)[-1] == -1).all()
    assert torch.allclose(
        probs_of(model, never), torch.full((len(never), vocab.size), 1 / vocab.size, dtype=torch.float64)
    )


@pytest.mark.parametrize("smoothing", ["kneser_ney", "additive"])
def test_counts_merged_from_blocks_of_a_split_file_give_the_model_of_one_block(
    splits, tmp_path, monkeypatch, smoothing
):
    vocab, split = splits
    config = NGramConfig(
        family="ngram", order=4, smoothing=smoothing, **({"k": 0.5} if smoothing == "additive" else {})
    )
    whole = fit(config, vocab, split["train"], split["val"])
    for name in ("train", "val"):
        (tmp_path / f"{name}.txt").write_text("".join(f"{word}\n" for word in split[name]), encoding="utf-8")
    monkeypatch.setattr(artifacts, "BLOCK_BYTES", 20_000)  # 9 blocks, merged by DuckDB
    files = FitData(
        vocab, SplitFile(vocab, tmp_path / "train.txt"), SplitFile(vocab, tmp_path / "val.txt"), MAX_LEN
    )
    assert len(list(files.train.chunks())) > 1
    merged = FAMILIES["ngram"].fit(config, files)
    tensors, expected = merged.model.tensors(), whole.model.tensors()
    assert tensors.keys() == expected.keys() and all(torch.equal(tensors[k], expected[k]) for k in expected)
    assert merged.curve[0]["train"] == pytest.approx(whole.curve[0]["train"], abs=1e-12)
    assert merged.curve[0]["val"] == pytest.approx(
        whole.curve[0]["val"], abs=1e-12
    )  # summed a block at a time
