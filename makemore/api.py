"""A project's trained models from Python: what the `makemore` command prints and `makemore serve` shows.

from makemore.api import Project

project = Project("path/to/project")   # after `dvc repro`, or `dvc pull` of a teammate's models
project.leaderboard()                  # a DataFrame, one row per model, best val NLL first
project.load("kneser_ney").sample(5, seed=7, temperature=0.5, top_k=10)
project.score(["emma"])                # p of each character (and the end) under every model

pandas is imported by the methods that return a DataFrame, not with this module: `makemore top` and `makemore
sample` start without it.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from makemore import MakemoreError
from makemore.artifacts import control_character, file_sha256, normalized, read_words
from makemore.models import Model
from makemore.models.contexts import Positions
from makemore.models.files import load_instance, load_model_file, model_file
from makemore.params import MAX_LENGTH, PARAMS_FILE, Constraints, Params, Sample, load_params, validated
from makemore.sampling import Accepted, generate
from makemore.search import most_likely
from makemore.vocab import SPLITS, VOCAB_FILE, Vocabulary, load_vocab

if TYPE_CHECKING:
    import pandas as pd

MAX_TOP = 10_000  # the most words `top` lists
NOT_EVALUATED = "not evaluated yet (dvc repro)"
NO_MODEL = "no model file here (dvc repro, or dvc pull)"
COMPARE_FILE = "metrics/compare.json"
# a leaderboard column, and the key of metrics/compare.json it shows
COMPARED = {"vs_best": "difference", "low": "low", "high": "high"}
NOT_COMPARED = {"vs_best": math.nan, "low": math.nan, "high": math.nan, "verdict": None}


def project_root(start: Path) -> Path:
    """The nearest folder at or above `start` that holds the pipeline (dvc.yaml and params.yaml)."""
    for folder in (start, *start.absolute().parents):
        if (folder / "dvc.yaml").is_file() and (folder / "params.yaml").is_file():
            return folder
    raise MakemoreError(
        f"{start} is not inside a makemore project (no dvc.yaml and params.yaml here or above): run makemore from the project's folder"
    )


@dataclass(frozen=True)
class Trained:
    """One trained instance of a project's `models:`, ready to sample and score."""

    name: str
    model: Model
    vocab_file: Path  # where its vocabulary came from, for the messages
    sha256: str  # of the model file it was read from, as its metrics record it
    normalize: str = "nfc"  # data.normalize of its project: how a word to score is read
    data_file: Path | None = None  # the project's data file (data.path): which words are not new

    def samples(self, num: int | None = None, **settings: object) -> Accepted:
        """`num` new words, one at a time as they are drawn (for a reader that may stop early). `settings` are the
        other fields of params.yaml's `sample:` (seed, max_len, temperature, top_k) and the constraints (prefix,
        suffix, contains, length, novel, exclude), each defaulting to its schema's (makemore/params.py: Sample and
        Constraints) and checked by it, a bad one refused in one line. The same seed gives the same words, and a
        seed's first words are the same for any num; with params.yaml's sample settings and no constraint they are
        the pipeline's data/samples/NAME.txt. A word with a prefix is drawn after it; the other constraints reject
        the words that fail them, and the iterator's `drawn`, `kept` and `rate` say how many."""
        sample_settings = {
            key: value for key, value in settings.items() if key not in Constraints.model_fields
        }
        chosen = validated(
            Sample, sample_settings | ({} if num is None else {"num": num}), f"{self.name}.sample()"
        )
        constraints = self.constraints(
            {key: settings[key] for key in settings.keys() - sample_settings.keys()}
        )
        longest = constraints.longest
        max_len = chosen.max_len if longest is None else min(chosen.max_len, longest + 1)
        prefix = self.tokens(constraints.prefix)
        if len(prefix) > max_len:
            raise MakemoreError(f"prefix = {constraints.prefix!r} is longer than max_len = {max_len}")
        draws = sys.maxsize if constraints.any else chosen.num  # with constraints, as many as it takes
        drawn = generate(self.model, draws, chosen.seed, max_len, chosen.temperature, chosen.top_k, prefix)
        excluded = self.excluded(constraints)
        return Accepted(
            (self.model.vocab.decode(ids) for ids in drawn),
            lambda word: constraints.admits(word) and word not in excluded,
            chosen.num,
        )

    def sample(self, num: int | None = None, **settings: object) -> list[str]:
        """The words of `samples`, as a list."""
        return list(self.samples(num, **settings))

    def most_likely(
        self, num: int = 10, per_token: bool = False, **constraints: object
    ) -> Iterator[tuple[str, float]]:
        """The `num` most probable words that meet the constraints (the fields of makemore/params.py: Constraints), in
        exact order (per_token: lowest NLL per token first), each with its log-probability, one at a time as the
        search finds them (makemore/search.py); the constraints are checked before it starts. Each word has at most
        `length`'s MAX characters, else at most the sample schema's default max_len."""
        if not isinstance(num, int) or not 1 <= num <= MAX_TOP:
            raise MakemoreError(f"num = {num!r} is invalid: give 1 to {MAX_TOP:,} words")
        chosen = self.constraints(constraints)
        longest = min(chosen.longest or Sample().max_len, self.model.max_word_length or MAX_LENGTH)
        excluded = self.excluded(chosen)
        vocab = self.model.vocab

        def admits(tokens: list[int]) -> bool:
            word = vocab.decode(tokens)
            return chosen.admits(word) and word not in excluded

        found = most_likely(self.model, num, admits, longest, self.tokens(chosen.prefix), per_token)
        return ((vocab.decode(tokens), log_p) for tokens, log_p in found)

    def top(self, num: int = 10, per_token: bool = False, **constraints: object) -> pd.DataFrame:
        """The words of `most_likely`, one row each: the word, its probability p, log p, and its NLL per token
        (its characters and the end)."""
        import pandas as pd

        rows = [
            (word, math.exp(log_p), log_p) for word, log_p in self.most_likely(num, per_token, **constraints)
        ]
        table = pd.DataFrame(rows, columns=["word", "p", "log_p"])
        return table.assign(nll=-table["log_p"] / (table["word"].str.len() + 1))

    def constraints(self, given: dict[str, object]) -> Constraints:
        """The constraints checked, their text read as the data is and refused if the model has no character of it."""
        chosen = validated(Constraints, given, f"{self.name}: the constraints")
        texts = {"prefix": chosen.prefix, "suffix": chosen.suffix, "contains": chosen.contains}
        read = {key: normalized(text, self.normalize) for key, text in texts.items()}
        for key, text in read.items():
            unknown = sorted(set(text) - set(self.model.vocab.chars))
            if unknown:
                raise MakemoreError(
                    f"{key} = {texts[key]!r}: {unknown[0]!r} is not a character of the vocabulary ({self.vocab_file}), "
                    "so no word has it"
                )
        return chosen.model_copy(update=read)

    def tokens(self, text: str) -> list[int]:
        """The indices of a text's characters, all in the vocabulary."""
        return self.model.vocab.encode([text])[1:-1].tolist() if text else []

    def excluded(self, constraints: Constraints) -> set[str]:
        """The words `novel` and `exclude` rule out: the data file's lines, and the given file's."""
        files = [self.data_file] if constraints.novel else []
        if constraints.novel and (self.data_file is None or not self.data_file.is_file()):
            raise MakemoreError(
                f"novel: the data file {self.data_file or '(none: a model file on its own)'} is not here "
                "to say which words are new (dvc pull it, or give the words with exclude)"
            )
        if constraints.exclude is not None:
            files.append(Path(constraints.exclude))
            if not files[-1].is_file():
                raise MakemoreError(f"exclude = {constraints.exclude!r}: no such file")
        return {word for path in files for word in read_words(path, normalize=self.normalize)}

    def score(self, words: Iterable[str]) -> pd.DataFrame:
        """One row per predicted token of each word (its characters, then the end): the word as given, the position,
        the token, its probability p and log p (-inf: a token the model rules out). `words`: a list, a tuple, a
        generator, any iterable of words. Each is read as the data is (`normalize`: data.normalize), so `é`
        decomposed scores as `é` does."""
        import pandas as pd

        vocab = self.model.vocab
        given = listed_words(words)
        words = [self.checked(word) for word in given]
        positions = Positions.of(vocab, words)
        contexts = positions.contexts(self.model.context_length, torch.arange(len(positions)))
        try:
            log_p = self.model.log_probs_of(contexts, positions.targets).double()  # (N,)
        except MakemoreError as e:
            raise MakemoreError(f"{self.name} cannot score these words: {e}") from None
        word_of = [word for word, read in zip(given, words) for _ in range(len(read) + 1)]
        return pd.DataFrame(
            {
                "word": word_of,
                "position": positions.offsets.tolist(),
                "token": [vocab.labels[token] for token in positions.targets.tolist()],
                "p": log_p.exp().numpy(),
                "log_p": log_p.numpy(),
            }
        )

    def checked(self, word: str) -> str:
        """The word as the data is read (normalised), refused in one line if the model cannot score it."""
        if not isinstance(word, str) or any("\ud800" <= char <= "\udfff" for char in word):
            raise MakemoreError(f"cannot score {word!r}: not text (bytes that are not UTF-8?)")
        if problem := control_character(word):  # a "\n" would otherwise split the word in two
            raise MakemoreError(f"cannot score {word!r}: {problem}")
        if not word:  # the data has none: a blank line is no word
            raise MakemoreError("cannot score '': a word has at least one character")
        read = normalized(word, self.normalize)
        try:
            self.model.vocab.encode([read])
        except MakemoreError as e:
            raise MakemoreError(f"cannot score {word!r}: {e} ({self.vocab_file})") from None
        return read


def listed_words(words: Iterable[str]) -> list[str]:
    """The words of any iterable as a list, refused in one line if there are none or they are one string."""
    if isinstance(words, str) or not isinstance(words, Iterable) or not (listed := list(words)):
        raise MakemoreError(f"give a list of one or more words to score, not {words!r}")
    return listed


def load_file(path: str | Path) -> Trained:
    """A model file on its own, outside any project (as `dvc artifacts get` fetches it): it holds its vocabulary
    and the name of its instance. With no params.yaml to say otherwise, words to score are read in NFC."""
    name, model = load_model_file(path)
    return Trained(name, model, Path(path), file_sha256(path))


@dataclass
class Project:
    """A makemore project on disk: its params.yaml, its vocabulary, its trained models and their metrics.

    `folder` is the project's folder or any folder below it. Nothing is read until it is asked for, and then once:
    params.yaml, the vocabulary, and each model (checked against params.yaml). After an edit and `dvc repro`,
    open the project again.
    """

    folder: Path | str = "."
    root: Path = field(init=False)
    _loaded: dict[str, Trained] = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        folder = Path(self.folder)
        if not folder.is_dir():
            raise MakemoreError(
                f"{folder}: {'not a folder' if folder.exists() else 'no such folder'}: give the project's folder (the one with dvc.yaml and params.yaml) or one below it"
            )
        self.root = project_root(folder)

    @cached_property
    def params(self) -> Params:
        return load_params(self.root / PARAMS_FILE)

    @property
    def names(self) -> list[str]:
        """The models under `models:` in params.yaml, then its `mixtures:`, in its order."""
        return list(self.params.instances)

    @cached_property
    def vocab(self) -> Vocabulary:
        return load_vocab(self.root / VOCAB_FILE)

    def load(self, name: str) -> Trained:
        """The trained model of `models.NAME`, refused in one line if it is not there, corrupt, or trained with
        other params than params.yaml's."""
        if name not in (names := self.names):
            raise MakemoreError(
                f"{name}: no such model in {self.root / PARAMS_FILE} (its models: {', '.join(names)})"
            )
        if name not in self._loaded:
            model = load_instance(name, self.vocab, self.root)
            sha256 = file_sha256(self.root / model_file(name, self.params))
            self._loaded[name] = Trained(
                name,
                model,
                self.root / VOCAB_FILE,
                sha256,
                self.params.data.normalize,
                self.root / self.params.data.path,
            )
        return self._loaded[name]

    def score(self, words: Iterable[str], names: Iterable[str] | None = None) -> pd.DataFrame:
        """`Trained.score` of the words under each model of `names` (default: every model), one above the other,
        with the model's name in a first column. Both are any iterables: lists, tuples, generators."""
        import pandas as pd

        words = listed_words(words)
        if isinstance(names, str) or names is not None and not (names := list(names)):
            raise MakemoreError(f"give a list of one or more model names, not {names!r}")
        scored = [self.load(name) for name in (self.names if names is None else names)]
        tables = [trained.score(words) for trained in scored]
        columns = ["model", *tables[0].columns]
        return pd.concat(
            [table.assign(model=trained.name)[columns] for trained, table in zip(scored, tables)],
            ignore_index=True,
        )

    def rank(self, words: Iterable[str], names: Iterable[str] | None = None) -> pd.DataFrame:
        """One row per distinct word: its mean NLL per token (its characters and the end) under each model of `names`
        (default: every model), a column each in their order; best first by the first model's, ties in the words'
        order."""
        scores = self.score(list(dict.fromkeys(listed_words(words))), names)
        nlls = (-scores.groupby(["model", "word"], sort=False)["log_p"].mean()).unstack("model")
        nlls = nlls[list(dict.fromkeys(scores["model"]))]  # the models' order, not the alphabet's
        ranked = nlls.sort_values(nlls.columns[0], kind="stable").rename_axis(columns=None).reset_index()
        return ranked.rename(columns={"index": "word"})

    def leaderboard(self) -> pd.DataFrame:
        """One row per model: its family, its params, its train, val and test NLL (metrics/evaluate/NAME.json), its
        status, and its val NLL's difference from the best model's with the bootstrap interval of it and a verdict,
        best, tie (the interval holds 0) or worse (metrics/compare.json); best val first. A model's NLLs are shown only beside the model file they were measured on
        (the sha256 its evaluate stage recorded): a model not trained or evaluated yet, trained with other params
        than params.yaml's (edited since `dvc repro`), or another file than the one measured, has none, and its
        status says why and what to run."""
        import pandas as pd

        rows = []
        for name, params in self.params.instances.items():
            status, nlls = self.evaluated(name)
            settings = " ".join(f"{key}={value}" for key, value in params.items() if key != "family")
            versus = self.versus_best(name) if status == "ok" else NOT_COMPARED
            rows.append(
                {"model": name, "family": params.get("family"), "params": settings, **nlls, "status": status}
                | versus
            )
        table = pd.DataFrame(rows)
        order = table["val"].map(lambda nll: math.inf if math.isnan(nll) else nll).argsort(kind="stable")
        return table.iloc[order].reset_index(drop=True)

    def versus_best(self, name: str) -> dict[str, float | str | None]:
        """A model's row of metrics/compare.json (vs_best, low, high, verdict), if it compared the file in place."""
        path = self.root / COMPARE_FILE
        if not path.is_file():
            return NOT_COMPARED
        try:
            compared = json.loads(path.read_text())["models"].get(name)
            if compared is None or compared["model_sha256"] != self.load(name).sha256:
                return NOT_COMPARED
            numbers = {key: float(compared[source]) for key, source in COMPARED.items()}
            return numbers | {"verdict": str(compared["verdict"])}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise MakemoreError(
                f"{path}: not the metrics of the compare stage (corrupt): run `dvc repro -f compare`"
            ) from None

    def evaluated(self, name: str) -> tuple[str, dict[str, float]]:
        """The status of a model's metrics ("ok", or why there are none) and its NLL on each split (NaN if none)."""
        metrics = self.root / f"metrics/evaluate/{name}.json"
        missing = {split: math.nan for split in SPLITS}
        if not metrics.is_file():
            return NOT_EVALUATED, missing
        try:
            evaluation = json.loads(metrics.read_text())
            nlls = {split: float(evaluation[split]["nll"]) for split in missing}
            measured = evaluation.get("model_sha256")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise MakemoreError(
                f"{metrics}: not the metrics of an evaluate stage (corrupt): run `dvc repro -f evaluate@{name}`"
            ) from None
        if (
            not (self.root / VOCAB_FILE).is_file()
            or not (self.root / model_file(name, self.params)).is_file()
        ):
            return NO_MODEL, missing
        try:
            trained = self.load(name)
        except MakemoreError as e:
            return f"stale: {str(e).partition(': ')[2]}", missing
        if measured != trained.sha256:
            return (
                f"stale: {model_file(name, self.params)} is not the file {metrics.relative_to(self.root)} measured: run `dvc repro`",
                missing,
            )
        return "ok", nlls
