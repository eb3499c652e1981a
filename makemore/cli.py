"""makemore: score and sample names with the trained models, and explore them on a page, without rerunning the
pipeline.

Run inside the project (its root or any folder below) after `make repro` (or `dvc repro`), which makes
the artifacts it reads, or after `dvc pull` of a teammate's.
"""

import argparse
import os
import sys
from pathlib import Path

import pandas as pd

from makemore import MakemoreError
from makemore.api import Project, project_root
from makemore.params import Sample, field_option, int_in


def model_names(project: Project, chosen: str | None) -> list[str]:
    """The models under `models:` in params.yaml, or the one chosen if it is one of them."""
    names = project.names
    if chosen is not None and chosen not in names:
        raise MakemoreError(
            f"--model {chosen}: no such model in params.yaml (its models: {', '.join(names)})"
        )
    return [chosen] if chosen is not None else names


def score(args: argparse.Namespace) -> None:
    project = Project()
    names = model_names(project, args.model)
    scores = project.score(list(dict.fromkeys(args.words)), names)  # each distinct word once
    for word in args.words:
        rows = scores[scores["word"] == word]
        table = pd.DataFrame({"token": rows["token"][rows["model"] == names[0]].to_numpy()})
        for name in names:
            of_model = rows[rows["model"] == name]
            table[f"{name} p"] = of_model["p"].to_numpy()
            table[f"{name} log p"] = of_model["log_p"].to_numpy()  # -inf: a token the model rules out
        nlls = ", ".join(f"{name} {-table[f'{name} log p'].mean():.4f}" for name in names)
        print(f"{word}  (mean NLL per token: {nlls})")
        print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
        print()


def sample_words(args: argparse.Namespace) -> None:
    project = Project()
    if args.model is None and "count" not in project.names:
        raise MakemoreError(
            "params.yaml has no model named count, the default: choose one with --model NAME (makemore models lists them)"
        )
    (name,) = model_names(project, args.model or "count")
    settings = {name: getattr(args, name) for name in Sample.model_fields}
    for word in project.load(name).samples(**settings):
        print(word)


def list_models(args: argparse.Namespace) -> None:
    """Each model's family, its params and its val NLL (from its evaluate stage), best first; a model trained with
    other params than params.yaml's (edited since `dvc repro`) shows why it has no NLL instead."""
    board = Project().leaderboard()
    val = [nll if status == "ok" else status for nll, status in zip(board["val"], board["status"])]
    versus = [versus_best(row) for row in board.to_dict("records")]
    columns = {"val NLL": val, "val vs best [interval]": versus}
    print(board[["model", "family", "params"]].assign(**columns).to_string(index=False))


def versus_best(row: dict) -> str:
    """A model's difference from the best on val, with its interval, as `+0.00869 [+0.00369, +0.01393]`."""
    if not isinstance(row["verdict"], str):  # none: NaN in the leaderboard's column of strings
        return "-" if row["status"] != "ok" else "not compared yet (dvc repro)"
    if row["verdict"] == "best":
        return "best"
    interval = f"{row['vs_best']:+.5f} [{row['low']:+.5f}, {row['high']:+.5f}]"
    return interval + (" tie" if row["verdict"] == "tie" else "")


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
    add_serve_options(
        commands.add_parser(
            "serve",
            help="a local page to explore the ladder: each character's probability under every model, samples, the leaderboard",
            description="Serve a page on this machine: type words and see each character's probability under every "
            "model (a heatmap, the models as rows), sample from any model, read the leaderboard. Nothing on it "
            "comes from the network. Ctrl-C stops it.",
        )
    )
    return main


def add_serve_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on (default: %(default)s, this machine only, as is an empty one). The page "
        "answers only a request for this address, localhost, 127.0.0.1 or [::1] at its port, any other with "
        "a 400; 0.0.0.0 or :: listens on every interface and answers any name: the page is open to the network",
    )
    command.add_argument(
        "--port", type=int_in(0, 65535), default=8000, help="0: any free port (default: %(default)s)"
    )
    command.set_defaults(run=serve_page)


def serve_page(args: argparse.Namespace) -> None:
    from makemore.serve import serve  # FastAPI and uvicorn: only this command needs them

    serve(Project(), args.host, args.port)


def add_sample_options(command: argparse.ArgumentParser) -> None:
    """The `sample` command's options: --model, and every field of the sample schema with its default and help."""
    command.add_argument(
        "--model", metavar="NAME", help="a model under `models:` in params.yaml (default: count)"
    )
    for name, field in Sample.model_fields.items():
        default = "" if field.default is None else " (default: %(default)s)"
        command.add_argument(
            f"--{name.replace('_', '-')}",
            type=field_option(Sample, name),
            default=field.default,
            help=field.description + default,
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
