"""makemore: score and sample names with the trained models, without rerunning the pipeline.

Run inside the project (its root or any folder below) after `make repro` (or `dvc repro`), which makes
the artifacts it reads.
"""

import argparse
import json
import math
import os
import sys
from pathlib import Path

import pandas as pd
import torch

from makemore import MakemoreError
from makemore.artifacts import control_character
from makemore.contexts import Positions
from makemore.models import Model, load_instance
from makemore.params import MAX_LENGTH, MAX_SEED, int_in, load_params, positive_float, positive_int
from makemore.sampling import generate
from makemore.vocab import VOCAB_FILE, Vocabulary, load_vocab


def model_names(chosen: str | None) -> list[str]:
    """The models under `models:` in params.yaml, or the one chosen if it is one of them."""
    names = list(load_params().models)
    if chosen is not None and chosen not in names:
        raise MakemoreError(
            f"--model {chosen}: no such model in params.yaml (its models: {', '.join(names)})"
        )
    return [chosen] if chosen is not None else names


def score_table(word: str, vocab: Vocabulary, models: dict[str, Model]) -> pd.DataFrame:
    """One row per predicted token of `word` (its characters, then the end): p and log p under each model."""
    positions = Positions.of(vocab, [word])
    labels = vocab.labels
    table = pd.DataFrame({"token": [labels[token] for token in positions.targets.tolist()]})
    for name, model in models.items():
        log_p = model.log_probs_of(
            positions.contexts(model.context_length, torch.arange(len(positions))), positions.targets
        ).double()
        table[f"{name} p"] = log_p.exp().numpy()
        table[f"{name} log p"] = log_p.numpy()  # -inf: a token the model rules out
    return table


def score(args: argparse.Namespace) -> None:
    vocab = load_vocab(VOCAB_FILE)
    models = {name: load_instance(name, vocab) for name in model_names(args.model)}
    for word in args.words:
        if problem := control_character(word):  # a "\n" would otherwise split the word in two
            raise MakemoreError(f"cannot score {word!r}: {problem}")
        if not word:  # the data has none: a blank line is no word
            raise MakemoreError("cannot score '': a word has at least one character")
        try:
            table = score_table(word, vocab, models)
        except MakemoreError as e:
            raise MakemoreError(f"cannot score {word!r}: {e} ({VOCAB_FILE})") from None
        nlls = ", ".join(f"{name} {-table[f'{name} log p'].mean():.4f}" for name in models)
        print(f"{word}  (mean NLL per token: {nlls})")
        print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
        print()


def sample_words(args: argparse.Namespace) -> None:
    vocab = load_vocab(VOCAB_FILE)
    if args.model is None and "count" not in load_params().models:
        raise MakemoreError(
            "params.yaml has no model named count, the default: choose one with --model NAME (makemore models lists them)"
        )
    (name,) = model_names(args.model or "count")
    model = load_instance(name, vocab)
    for ids in generate(model, args.num, args.seed, args.max_len, args.temperature, args.top_k):
        print(vocab.decode(ids))


def list_models(args: argparse.Namespace) -> None:
    """Each model's family, its params and its val NLL (from its evaluate stage), best first; a model trained with
    other params than params.yaml's (edited since `dvc repro`) shows no NLL, as its metrics are not of these params."""
    rows = []
    vocab = load_vocab(VOCAB_FILE) if Path(VOCAB_FILE).is_file() else None
    for name, params in load_params().models.items():
        metrics = Path(f"metrics/evaluate/{name}.json")
        try:
            val = (
                json.loads(metrics.read_text())["val"]["nll"]
                if metrics.is_file()
                else "not evaluated yet (dvc repro)"
            )
        except (ValueError, KeyError, TypeError):
            raise MakemoreError(
                f"{metrics}: not the metrics of an evaluate stage (corrupt): run `dvc repro -f evaluate@{name}`"
            ) from None
        if metrics.is_file() and vocab is not None:
            try:
                load_instance(name, vocab)
            except MakemoreError as e:
                val = f"stale: {str(e).partition(': ')[2]}"
        settings = " ".join(f"{key}={value}" for key, value in params.items() if key != "family")
        rows.append({"model": name, "family": params.get("family"), "params": settings, "val NLL": val})
    table = pd.DataFrame(rows)
    table = table.iloc[
        table["val NLL"]
        .map(lambda v: float(v) if not isinstance(v, str) or v == "inf" else math.inf)
        .argsort(kind="stable")
    ]
    print(table.to_string(index=False))


def project_root(start: Path) -> Path:
    """The nearest folder at or above `start` that holds the pipeline (dvc.yaml and params.yaml)."""
    for folder in (start, *start.parents):
        if (folder / "dvc.yaml").is_file() and (folder / "params.yaml").is_file():
            return folder
    raise MakemoreError(
        f"{start} is not inside a makemore project (no dvc.yaml and params.yaml here or above): run makemore from the project's folder"
    )


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="makemore", description=__doc__.splitlines()[0])
    commands = main.add_subparsers(dest="command", required=True)
    score_command = commands.add_parser(
        "score",
        help="probability of each character of each word under every model, and the word's mean NLL",
        description="Per predicted token of each word (its characters, then the end boundary): its probability p "
        "and log p under every model of params.yaml, or the one of --model; then the word's mean NLL per token. "
        "A token a model rules out shows p = 0, log p = -inf.",
    )
    score_command.add_argument(
        "words", nargs="+", metavar="WORD", help="a word made of characters in the vocabulary"
    )
    score_command.add_argument("--model", metavar="NAME", help="only this model (default: every model)")
    score_command.set_defaults(run=score)
    add_sample_options(
        commands.add_parser(
            "sample",
            help="draw new words from one model",
            description="Draw words from one model, one per line. The same seed gives the same words; "
            "--num 1000 with the seed in params.yaml gives the pipeline's data/samples/NAME.txt.",
        )
    )
    models_command = commands.add_parser(
        "models",
        help="list the models with their family, params and val NLL, best first",
        description="The models under `models:` in params.yaml: family, params and val NLL "
        "(metrics/evaluate/NAME.json), best first.",
    )
    models_command.set_defaults(run=list_models)
    return main


def add_sample_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--model", metavar="NAME", help="a model under `models:` in params.yaml (default: count)"
    )
    command.add_argument("--num", type=positive_int, default=10, help="how many words (default: %(default)s)")
    command.add_argument(
        "--seed",
        type=int_in(0, MAX_SEED),
        default=2147483647,
        help="torch.Generator seed, 0 to 2**64 - 1 (default: %(default)s)",
    )
    command.add_argument(
        "--temperature",
        type=positive_float,
        default=1.0,
        help="< 1 sharpens, > 1 flattens the model's distributions; near 0 always takes the most likely "
        "next character (default: %(default)s)",
    )
    command.add_argument(
        "--top-k",
        type=positive_int,
        default=None,
        help="draw only from the k most likely next characters, and any tied with the k-th (default: all)",
    )
    command.add_argument(
        "--max-len",
        type=int_in(1, MAX_LENGTH),
        default=50,
        help=f"cut words off at this length, at most {MAX_LENGTH} (default: %(default)s)",
    )
    command.set_defaults(run=sample_words)


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
