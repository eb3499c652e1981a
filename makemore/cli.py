"""makemore: score and sample names with the trained models, without rerunning the pipeline.

Run inside the project (its root or any folder below) after `make repro` (or `dvc repro`), which makes
the artifacts it reads.
"""

import argparse
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch

from makemore import MakemoreError
from makemore.artifacts import MODELS, control_character, load_probs, load_vocab
from makemore.bigram import Vocabulary, bigrams, sample
from makemore.params import MAX_LENGTH, MAX_SEED

VOCAB_FILE = "data/prepared/vocab.json"


def model_probs(model: str, vocab: Vocabulary) -> torch.Tensor:
    return load_probs(f"data/models/{model}.pt", vocab)


def score_table(word: str, vocab: Vocabulary, probs: dict[str, torch.Tensor]) -> pd.DataFrame:
    """One row per bigram of `word`: its probability and log-probability under each model."""
    xs, ys = bigrams(vocab.encode([word]))
    labels = vocab.labels
    table = pd.DataFrame({"bigram": [labels[x] + labels[y] for x, y in zip(xs.tolist(), ys.tolist())]})
    for model, table_probs in probs.items():
        p = table_probs[xs, ys].double()
        table[f"{model} p"] = p.numpy()
        table[f"{model} log p"] = p.log().numpy()  # log 0 = -inf: a bigram the model rules out
    return table


def score(args: argparse.Namespace) -> None:
    vocab = load_vocab(VOCAB_FILE)
    probs = {model: model_probs(model, vocab) for model in MODELS}
    for word in args.words:
        if problem := control_character(word):  # a "\n" would otherwise split the word in two
            raise MakemoreError(f"cannot score {word!r}: {problem}")
        try:
            table = score_table(word, vocab, probs)
        except MakemoreError as e:
            raise MakemoreError(f"cannot score {word!r}: {e} ({VOCAB_FILE})") from None
        nlls = ", ".join(f"{model} {-table[f'{model} log p'].mean():.4f}" for model in MODELS)
        print(f"{word}  (mean NLL per bigram: {nlls})")
        print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
        print()


def sample_names(args: argparse.Namespace) -> None:
    vocab = load_vocab(VOCAB_FILE)
    for ids in sample(model_probs(args.model, vocab), args.num, args.seed, args.max_len, args.temperature, args.top_k):
        print(vocab.decode(ids))


def project_root(start: Path) -> Path:
    """The nearest folder at or above `start` that holds the pipeline (dvc.yaml and params.yaml)."""
    for folder in (start, *start.parents):
        if (folder / "dvc.yaml").is_file() and (folder / "params.yaml").is_file():
            return folder
    raise MakemoreError(f"{start} is not inside a makemore project (no dvc.yaml and params.yaml here or above): run makemore from the project's folder")


def int_in(low: int, high: int) -> Callable[[str], int]:
    def integer(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, not {value}")
        return value

    return integer


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def non_negative(text: str) -> float:
    value = float(text)
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, not {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="makemore", description=__doc__.splitlines()[0])
    commands = main.add_subparsers(dest="command", required=True)

    score_cmd = commands.add_parser(
        "score",
        help="probability of every bigram of each word under both models, and the word's mean NLL",
        description="Per bigram of each word: its probability p and log p under the count and the neural model; "
        "then the word's mean NLL per bigram. A bigram a model rules out shows p = 0, log p = -inf.",
    )
    score_cmd.add_argument("words", nargs="+", metavar="WORD", help="a word made of characters in the vocabulary")
    score_cmd.set_defaults(run=score)

    sample_cmd = commands.add_parser(
        "sample",
        help="draw new words from one model",
        description="Draw words from one model, one per line. The same seed gives the same words; "
        "--num 1000 with the seed in params.yaml gives the pipeline's data/samples/MODEL.txt.",
    )
    sample_cmd.add_argument("--model", choices=MODELS, default="count", help="which model (default: %(default)s)")
    sample_cmd.add_argument("--num", type=positive_int, default=10, help="how many words (default: %(default)s)")
    sample_cmd.add_argument("--seed", type=int_in(0, MAX_SEED), default=2147483647, help="torch.Generator seed, 0 to 2**64 - 1 (default: %(default)s)")
    sample_cmd.add_argument(
        "--temperature",
        type=positive_float,
        default=1.0,
        help="< 1 sharpens, > 1 flattens the model's distributions; near 0 always takes the most likely "
        "next character (default: %(default)s)",
    )
    sample_cmd.add_argument(
        "--top-k", type=positive_int, default=None, help="draw only from the k most likely next characters, and any tied with the k-th (default: all)"
    )
    sample_cmd.add_argument("--max-len", type=int_in(1, MAX_LENGTH), default=50, help=f"cut words off at this length, at most {MAX_LENGTH} (default: %(default)s)")
    sample_cmd.set_defaults(run=sample_names)
    return main


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        os.chdir(project_root(Path.cwd()))
        args.run(args)
        sys.stdout.flush()
    except MakemoreError as e:
        sys.exit(f"error: {e}")
    except BrokenPipeError:  # the reader left, as `makemore sample --num 100000 | head` does: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush fails no more
        sys.exit(128 + 13)  # as a process killed by SIGPIPE, like other command-line tools


if __name__ == "__main__":
    main()
