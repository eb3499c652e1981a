"""makemore: score, sample and find names with the trained models, and explore them on a page.

It reads what the pipeline made and reruns none of it. Run inside the project (its root or any folder below) after `make repro` (or `dvc repro`), which makes
the artifacts it reads, or after `dvc pull` of a teammate's.
"""

import argparse
import math
import os
import sys
from pathlib import Path

from makemore import MakemoreError
from makemore.api import MAX_TOP, Project, project_root
from makemore.artifacts import read_words
from makemore.params import Constraints, Sample, field_option, int_in

WORD_COLUMN = 16  # the width of the word column of `makemore top`


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
    if args.file is not None:
        return rank_file(project, names, args.file)
    if not args.words:
        raise MakemoreError("give the words to score, or a file of them with --file FILE")
    import pandas as pd  # only here: the other commands start without it

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


def rank_file(project: Project, names: list[str], path: str) -> None:
    """The words of a file, best first by the first model's mean NLL per token, with every model's."""
    words = read_words(path, normalize=project.params.data.normalize)
    for word in words:
        try:
            project.load(names[0]).checked(word)
        except MakemoreError as e:
            raise MakemoreError(f"{path}:{line_of(path, word)}: {e}") from None
    ranked = project.rank(words, names)
    print(f"mean NLL per token (characters and the end) of each word of {path}, best first by {names[0]}:")
    print(ranked.to_string(index=False, float_format=lambda x: f"{x:.4f}"))


def line_of(path: str, word: str) -> int:
    """The number of the first line of a file that reads as `word` (the file was read whole without error)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if word in line)


def sample_words(args: argparse.Namespace) -> None:
    project = Project()
    trained = project.load(chosen_model(project, args.model))
    settings = {name: vars(args)[name] for name in (*Sample.model_fields, *Constraints.model_fields)}
    drawn = trained.samples(**settings)
    for word in drawn:
        print(word)
    if Constraints.model_validate({name: settings[name] for name in Constraints.model_fields}).any:
        sys.stdout.flush()
        print(
            f"{drawn.kept} of {drawn.drawn} words drawn met the constraints ({drawn.rate:.2%})",
            file=sys.stderr,
        )


def top_words(args: argparse.Namespace) -> None:
    """The most probable words, in exact order, as they are found."""
    project = Project()
    name = chosen_model(project, args.model)
    constraints = {name: vars(args)[name] for name in Constraints.model_fields}
    found = project.load(name).most_likely(args.num, args.per_token, **constraints)
    order = "NLL per token" if args.per_token else "probability"
    shown = 0
    for shown, (word, log_p) in enumerate(found, 1):
        if shown == 1:  # the header waits for the first word: a search that finds none prints its error alone
            print(f"the {args.num} most likely words under {name} by {order}, in exact order:")
            print(f"{'rank':>4}  {'word':<{WORD_COLUMN}} {'p':>11} {'NLL per token':>13}")
        print(f"{shown:>4}  {word:<{WORD_COLUMN}} {math.exp(log_p):11.4e} {-log_p / (len(word) + 1):13.4f}")
    if shown == 0:
        raise MakemoreError(f"{name}: no word it can give meets the constraints")
    if shown < args.num:  # the search went through every word that meets them
        sys.stdout.flush()
        print(f"only {shown} words it can give meet the constraints", file=sys.stderr)


def chosen_model(project: Project, chosen: str | None) -> str:
    """The model of --model, or count, the default."""
    if chosen is None and "count" not in project.names:
        raise MakemoreError(
            "params.yaml has no model named count, the default: choose one with --model NAME (makemore models lists them)"
        )
    (name,) = model_names(project, chosen or "count")
    return name


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
    for name, (summary, description, add_options) in COMMANDS.items():
        add_options(commands.add_parser(name, help=summary, description=description))
    return main


def add_models_options(command: argparse.ArgumentParser) -> None:
    command.set_defaults(run=list_models)


def add_score_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "words", nargs="*", metavar="WORD", help="a word made of characters in the vocabulary"
    )
    command.add_argument("--model", metavar="NAME", help="only this model (default: every model)")
    command.add_argument(
        "--file",
        metavar="FILE",
        help="instead of the words: a file of them, one per line, ranked best first by each one's mean NLL per token",
    )
    command.set_defaults(run=score)


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
    """The `sample` command's options: --model, and every field of the sample and constraint schemas with its
    default and help."""
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
    add_constraint_options(command)
    command.set_defaults(run=sample_words)


def add_top_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--model", metavar="NAME", help="a model under `models:` in params.yaml (default: count)"
    )
    command.add_argument(
        "--num", type=int_in(1, MAX_TOP), default=10, help="how many words (default: %(default)s)"
    )
    command.add_argument(
        "--per-token",
        "--per-char",
        action="store_true",
        help="rank by the mean NLL per token (characters and the end), so that long words are not always last",
    )
    add_constraint_options(command)
    command.set_defaults(run=top_words)


def add_constraint_options(command: argparse.ArgumentParser) -> None:
    """Every field of the constraint schema as an option: a flag for a yes or no, text for the rest."""
    constraints = command.add_argument_group("constraints (every word given meets them all)")
    for name, field in Constraints.model_fields.items():
        option = f"--{name.replace('_', '-')}"
        if field.annotation is bool:
            constraints.add_argument(option, action="store_true", help=field.description)
        else:
            constraints.add_argument(
                option, default=field.default, metavar=name.upper(), help=field.description
            )


# Each command: its one-line help, its description, and what adds its options.
COMMANDS = {
    "score": (
        "probability of each character of each word under every model, and the word's mean NLL",
        "Per predicted token of each word (its characters, then the end boundary): its probability p and log p under "
        "every model of params.yaml, or the one of --model; then the word's mean NLL per token. A token a model rules "
        "out shows p = 0, log p = -inf.",
        add_score_options,
    ),
    "sample": (
        "draw new words from one model",
        "Draw words from one model, one per line. The same seed gives the same words; --num 1000 with the seed in "
        "params.yaml gives the pipeline's data/samples/NAME.txt.",
        add_sample_options,
    ),
    "top": (
        "the most likely words of one model, in exact order, with the sample command's constraints",
        "The NUM most probable words under one model that meet the constraints, most probable first, each with its "
        "probability and its mean NLL per token: a best-first search over prefixes, exact for any model. --per-token "
        "ranks by the NLL per token instead (give --length a MAX: the search bounds a word by it).",
        add_top_options,
    ),
    "models": (
        "list the models with their family, params and val NLL, best first",
        "The models under `models:` in params.yaml: family, params and val NLL (metrics/evaluate/NAME.json), best "
        "first.",
        add_models_options,
    ),
    "serve": (
        "a local page to explore the ladder: each character's probability under every model, samples, the leaderboard",
        "Serve a page on this machine: type words and see each character's probability under every model (a heatmap, "
        "the models as rows), sample from any model, read the leaderboard. Nothing on it comes from the network. "
        "Ctrl-C stops it.",
        add_serve_options,
    ),
}


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
