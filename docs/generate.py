"""The docs' generated blocks: every table of results and every console output in README.md and docs/*.md.

    python docs/generate.py           rewrite every block (what `make docs` runs; needs the trained models)
    python docs/generate.py --check   rewrite nothing: name each stale block and exit 1

A block is the text between `<!-- generated: NAME -->` and `<!-- end generated -->`; only that text is ever
rewritten. Each NAME is made by one function of BLOCKS, of one of three kinds:

- COMMITTED: from committed files alone (metrics/, params.yaml, dvc.yaml, tuning/);
- COMMANDS: the stdout (and stderr) of real commands that need no trained model (`dvc dag --mermaid`, a stage
  refusing a bad param);
- TRAINED: what the trained models give (`makemore models`, `score`, `sample`, data/samples/): run
  `make repro` or `dvc checkout` first.

tests/test_docs.py checks the first two kinds exactly and the third on the models it trains.
"""

import argparse
import csv
import json
import math
import os
import re
import shlex
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from makemore.params import load_params, parse_yaml

ROOT = Path(__file__).resolve().parents[1]
COMMITTED, COMMANDS, TRAINED = "committed", "commands", "trained"
# in Markdown, and in dvc.yaml as YAML comments
MARKER = re.compile(
    r"((?:<!-- |# )generated: ([\w-]+)(?: -->)?\n)(.*?)((?:<!-- |# )end generated(?: -->)?)", flags=re.S
)


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    note: str = ""  # shown after the command as a shell comment
    status: int = 0  # its expected exit status
    params: tuple[tuple[str, object], ...] = ()  # run on a copy of params.yaml with these keys set ("a.b.c")

    @property
    def line(self) -> str:
        return "$ " + shlex.join(self.argv) + (f"   # {self.note}" if self.note else "")


# What ran a command: its exit status and what it printed (stdout, then stderr). Tests run it in their process.
Runner = Callable[[Command, Path], tuple[int, str]]


def run_command(command: Command, cwd: Path) -> tuple[int, str]:
    """The real command, with this Python's environment (its venv's `makemore`, `dvc` and `python`) first on PATH."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    if command.argv[:2] == ("python", "-m"):
        env["PYTHONPATH"] = str(ROOT)  # a scratch folder's stage is this checkout's
    result = subprocess.run(list(command.argv), cwd=cwd, env=env, capture_output=True, text=True)
    return result.returncode, result.stdout + result.stderr


def console(commands: list[Command], root: Path, runner: Runner) -> str:
    """The commands and what they print, as a shell session."""
    lines = []
    for command in commands:
        cwd, scratch = root, None
        if command.params:  # a scratch folder with an edited params.yaml: the checkout's is never touched
            scratch = tempfile.TemporaryDirectory()
            cwd = Path(scratch.name)
            params = read_yaml(root / "params.yaml")
            for key, setting in command.params:
                *sections, last = key.split(".")
                section = params
                for part in sections:
                    section = section[part]
                section[last] = setting
            (cwd / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
        try:
            status, output = runner(command, cwd)
        finally:
            if scratch is not None:
                scratch.cleanup()
        if status != command.status:
            raise GenerationError(
                f"`{shlex.join(command.argv)}` exited {status}, not {command.status}:\n{output.strip()}\n"
                "(blocks of the trained models need them: `make repro`, or `dvc checkout` of a reproduced commit)"
            )
        lines += [command.line, *(line.rstrip() for line in output.rstrip("\n").split("\n"))]
    return fence("console", "\n".join(lines))


class GenerationError(Exception):
    pass


# --- reading the committed files ---------------------------------------------------------------------------


def read_yaml(path: Path) -> dict:
    return parse_yaml(path.read_text(encoding="utf-8"))  # as DVC reads params.yaml and dvc.yaml (YAML 1.2)


def read_json(path: Path) -> dict:
    if not path.is_file():
        raise GenerationError(f"{path}: no such file (run `make repro`)")
    return json.loads(path.read_text(encoding="utf-8"))


def models(root: Path) -> dict[str, dict]:
    """The instances under `models:` in params.yaml, then those under `mixtures:` (family mixture), in its order."""
    return load_params(root / "params.yaml").instances


def metrics(root: Path, kind: str, name: str) -> dict:
    """metrics/evaluate/NAME.json, metrics/train/NAME/metrics.json, metrics/time/NAME.json or metrics/sample/..."""
    path = root / "metrics" / kind / (f"{name}/metrics.json" if kind == "train" else f"{name}.json")
    return read_json(path)


def nll(value: object) -> float:
    return float(value)  # "inf" is written as a string


def table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def fence(language: str, text: str) -> str:
    return f"```{language}\n{text}\n```"


def value(v: object) -> str:
    """A param's value as params.yaml reads: lists in brackets, null and booleans as YAML writes them."""
    if isinstance(v, bool) or v is None:
        return yaml.safe_dump(v).split("\n")[0]
    if isinstance(v, list):
        return "[" + ", ".join(value(item) for item in v) + "]"
    return str(v)


def f5(x: object) -> str:
    return "inf" if math.isinf(nll(x)) else f"{nll(x):.5f}"


# A model's distinguishing params in one cell; the rest (seeds, devices, processes, schedules) are in docs/models.md.
QUIET = ("family", "seed", "device", "processes", "nodes", "eval_every", "warmup", "min_lr")


def defaults(root: Path, name: str) -> dict:
    """The params a model takes from its family's config without params.yaml giving them (a net's training params),
    as its train stage reads them (makemore.models.instance_config); the ones that do not apply (None) left out."""
    from makemore.models import instance_config  # torch is slow to import: only when asked

    given = models(root)[name]
    config = instance_config(name, root / "params.yaml").model_dump()
    return {key: v for key, v in config.items() if key not in given and v is not None}


def settings(root: Path, name: str) -> str:
    params = {**models(root)[name], **defaults(root, name)}
    return ", ".join(f"{key} {value(v)}" for key, v in params.items() if key not in QUIET)


def size(summary: dict) -> str:
    if "ngrams_stored" in summary:
        return f"{summary['ngrams_stored']:,} n-grams"
    if "parameters" in summary:
        return f"{summary['parameters']:,} weights"
    if "weights" in summary:  # a mixture's: the weight of each model it mixes
        return ", ".join(f"{name} {weight:.3f}" for name, weight in summary["weights"].items())
    return "–"


def by_val(root: Path) -> list[str]:
    evaluated = {name: metrics(root, "evaluate", name) for name in models(root)}
    return sorted(evaluated, key=lambda name: nll(evaluated[name]["val"]["nll"]))


# --- the blocks -------------------------------------------------------------------------------------------------


def leaderboard(root: Path) -> str:
    rows, tokens, zero = [], {}, []
    compared = read_json(root / "metrics" / "compare.json")
    for name in by_val(root):
        params, evaluated = models(root)[name], metrics(root, "evaluate", name)
        summary, time = metrics(root, "train", name), metrics(root, "time", name)
        rows.append(
            [
                f"`{name}`",
                params["family"],
                settings(root, name),
                size(summary),
                f"{time['train_seconds']:.1f} s",
                f5(evaluated["train"]["nll"]),
                f"**{f5(evaluated['val']['nll'])}**",
                versus_best(compared["models"][name]),
                f5(evaluated["test"]["nll"]),
                f"{float(evaluated['val']['perplexity']):.2f}",
            ]
        )
        if compared["models"][name]["model_sha256"] != evaluated["model_sha256"]:
            raise GenerationError(
                f"metrics/compare.json compared another {name} than was evaluated: run `dvc repro`"
            )
        tokens[name] = tuple(evaluated[split]["tokens"] for split in ("train", "val", "test"))
        zero += [
            f"{evaluated[split]['zero_probability_tokens']:,} {split} tokens under `{name}`"
            for split in ("train", "val", "test")
            if evaluated[split]["zero_probability_tokens"]
        ]
    if len(set(tokens.values())) != 1:
        raise GenerationError(f"the models were evaluated on different splits: {tokens}")
    train, val, test = next(iter(tokens.values()))
    header = [
        "model",
        "family",
        "settings",
        "size",
        "training",
        "train NLL",
        "val NLL",
        "vs best",
        "test NLL",
    ]
    caption = (
        f"Mean NLL per predicted token in nats, on {train:,} train, {val:,} val and {test:,} test tokens; "
        + (f"probability zero: {', '.join(zero)}." if zero else "no token of any split has probability zero.")
        + f" vs best: the val NLL minus the best's, with its {compared['confidence']:.0%} interval over "
        f"{compared['resamples']:,} resamples of the {compared['words']:,} val words (`metrics/compare.json`); "
        "a tie when it holds 0."
    )
    return table([*header, "val perplexity"], rows) + "\n\n" + textwrap.fill(caption, 110)


def versus_best(compared: dict) -> str:
    if compared["verdict"] == "best":
        return "best"
    interval = f"{compared['difference']:+.4f} [{compared['low']:+.4f}, {compared['high']:+.4f}]"
    return interval + (" tie" if compared["verdict"] == "tie" else "")


def data_sizes(root: Path) -> str:
    prepared = read_json(root / "metrics" / "prepare.json")
    params = read_yaml(root / "params.yaml")
    keys = ["words", "distinct", "repeats", "dropped", "train", "val", "test"]
    note = (
        f"`{params['data']['path']}` (`metrics/prepare.json`), data.duplicates = {params['data']['duplicates']}, "
        f"split seed {params['split']['seed']}."
    )
    return table(keys, [[f"{prepared[key]:,}" for key in keys]]) + "\n\n" + note


def params_table(root: Path) -> str:
    """The params of data, split and sample with their defaults and params.yaml's own comments."""
    comments, section = {}, None
    for line in (root / "params.yaml").read_text(encoding="utf-8").splitlines():
        if match := re.match(r"^(\w+):", line):
            section = match[1]
        elif match := re.match(r"^  (\w+):[^#]*?(?:#\s*(.*))?$", line):
            comments[f"{section}.{match[1]}"] = match[2] or ""
    params = read_yaml(root / "params.yaml")
    rows = [
        [f"`{section}.{key}`", f"`{value(v)}`", comments.get(f"{section}.{key}", "")]
        for section in params
        if section != "models"
        for key, v in params[section].items()
    ]
    return table(["param", "default", "params.yaml says"], rows)


def ladder_params(root: Path) -> str:
    rows = [
        [
            f"`{name}`",
            params["family"],
            ", ".join(f"{k} {value(v)}" for k, v in params.items() if k != "family"),
            ", ".join(f"{k} {value(v)}" for k, v in defaults(root, name).items()) or "–",
        ]
        for name, params in models(root).items()
    ]
    return table(["model", "family", "params.yaml gives", "the family's defaults it takes"], rows)


def stage_paths(stage: dict, key: str, cache: bool | None = None) -> list[str]:
    """The paths a stage of dvc.yaml lists under `key` (outs, metrics, plots), those with that `cache` only if given."""
    found = []
    for entry in stage.get(key, []):
        path, options = (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
        if cache is None or options.get("cache", True) == cache:
            found.append(f"`{path.replace('${key}', 'NAME')}`")
    return found


def stage_table(root: Path) -> str:
    """dvc.yaml's stages: what each reads from params.yaml and what it writes, cached by DVC or committed."""
    rows = []
    for name, stage in read_yaml(root / "dvc.yaml")["stages"].items():
        label = f"`{name}@NAME`" if "foreach" in stage else f"`{name}`"
        stage = stage.get("do", stage)
        committed = stage_paths(stage, "metrics", False) + stage_paths(stage, "plots", False)
        params = [f"`{p.replace('${key}', 'NAME')}`" for p in stage.get("params", [])]
        rows.append(
            [
                label,
                ", ".join(params) or "–",
                ", ".join(stage_paths(stage, "outs")) or "–",
                ", ".join(committed) or "–",
            ]
        )
    return table(["stage", "params", "writes (cached by DVC)", "writes (committed to git)"], rows)


def train_summaries(root: Path) -> str:
    """DVCLive's summary of each train stage, and its time."""
    rows = []
    for name in models(root):
        summary, time = metrics(root, "train", name), metrics(root, "time", name)
        best = (
            f"{f5(summary['best_val_nll'])} (step {summary['best_step']:,})"
            if "best_step" in summary
            else "–"
        )
        rows.append(
            [
                f"`{name}`",
                f"{summary['step']:,}",
                f"{time['train_seconds']:.1f} s",
                f5(summary["train"]["nll"]) if "train" in summary else "–",  # a mixture is fitted on val
                f5(summary["val"]["nll"]),
                best,
                size(summary),
            ]
        )
    header = ["model", "last step", "training", "train NLL, last step", "val NLL, last step", "best val NLL"]
    return table([*header, "size"], rows)


def optimum_fits(root: Path) -> str:
    """Each model against the optimum of its contexts, the count model with k 0 on train."""
    rows = []
    for name in models(root):
        summary = metrics(root, "train", name)
        if "optimum" not in summary:
            continue
        train, optimum = nll(summary["train"]["nll"]), nll(summary["optimum"]["nll"])
        gap = summary.get("gap_to_optimum", train - optimum)
        differs = summary.get("max_prob_diff_to_optimum")
        rows.append(
            [
                f"`{name}`",
                models(root)[name]["family"],
                f5(train),
                f5(optimum),
                f"{gap:.4f}",
                "–" if differs is None else f"{differs:.3f}",
            ]
        )
    header = ["model", "family", "train NLL", "optimum", "above it", "largest probability difference"]
    return table(header, rows)


def ladder_steps(root: Path) -> str:
    """The ladder from the worst val NLL to the best: what each rung gains over the one below and over `count`."""
    ranked = list(reversed(by_val(root)))
    val = {name: nll(metrics(root, "evaluate", name)["val"]["nll"]) for name in ranked}
    test = {name: nll(metrics(root, "evaluate", name)["test"]["nll"]) for name in ranked}
    base = ranked[0]
    rows = []
    for i, name in enumerate(ranked):
        below = "–" if i == 0 else f"{val[ranked[i - 1]] - val[name]:.4f} below `{ranked[i - 1]}`"
        rows.append([f"`{name}`", f5(val[name]), f5(test[name]), below, f"{val[base] - val[name]:.4f}"])
    return table(
        ["model", "val NLL", "test NLL", "val: gain over the rung below", f"val: gain over `{base}`"], rows
    )


def curves(root: Path) -> str:
    """Each val curve of more than one point (DVCLive's history, metrics/train/NAME/plots/metrics/val/nll.tsv): every
    point of a short curve, and of a long one the steps 0, 1, 3, 10, 30, 100, ... and the last."""
    rows = []
    for name in models(root):
        with open(
            root / "metrics" / "train" / name / "plots" / "metrics" / "val" / "nll.tsv", newline=""
        ) as file:
            points = [(int(r["step"]), nll(r["nll"])) for r in csv.DictReader(file, delimiter="\t")]
        if len(points) < 2:
            continue
        if len(points) > 12:  # the first logged step at or after 0, 1, 3, 10, 30, ..., and the last
            marks = [0] + [m * 10**k for k in range(8) for m in (1, 3)]
            chosen = {
                next(point for point in points if point[0] >= mark) for mark in marks if mark <= points[-1][0]
            }
            points = sorted(chosen | {points[-1]})
        rows.append([f"`{name}`", ", ".join(f"{step:,}: {value:.4f}" for step, value in points)])
    return table(["model", "val NLL at its logged steps (step: NLL)"], rows)


def sample_stats(root: Path) -> str:
    rows = []
    for name in models(root):
        stats = metrics(root, "sample", name)
        rows.append(
            [
                f"`{name}`",
                f"{stats['in_train']:.1%}",
                f"{stats['in_val_or_test']:.1%}",
                f"{stats['new']:.1%}",
                f"{stats['mean_length']:.2f}",
            ]
        )
    header = ["model", "in train", "in val or test only", "new", "mean length"]
    num = read_yaml(root / "params.yaml")["sample"]["num"]
    return table(header, rows) + f"\n\nShares of the {num:,} sampled words (`metrics/sample/NAME.json`)."


def lengths(root: Path) -> str:
    """The length distributions of `metrics/sample/NAME_lengths.csv`: where they peak, their short and long tails."""

    def describe(label: str, shares: dict[int, float]) -> list[str]:
        mode = max(shares, key=shares.get)
        mean = sum(length * share for length, share in shares.items())
        short = sum(share for length, share in shares.items() if 1 <= length <= 3)
        long = sum(share for length, share in shares.items() if length > 10)
        return [label, f"{mean:.2f}", f"{mode} ({shares[mode]:.1%})", f"{short:.1%}", f"{long:.1%}"]

    rows, train = [], None
    for name in models(root):
        with open(root / "metrics" / "sample" / f"{name}_lengths.csv", newline="") as file:
            read = list(csv.DictReader(file))
        rows.append(describe(f"`{name}` samples", {int(r["length"]): float(r["sampled"]) for r in read}))
        train = describe("train words", {int(r["length"]): float(r["train"]) for r in read})
    header = ["words", "mean length", "most common length (share)", "1 to 3 characters", "over 10 characters"]
    return table(header, [train, *rows])


def sweep_csvs(root: Path) -> list[Path]:
    return sorted((root / "tuning" / "sweeps").glob("*.csv"))


def swept(root: Path, path: Path) -> tuple[str, str, list[dict]]:
    name, key = path.stem.split(".", 1)
    with open(path, newline="") as file:
        return name, key, list(csv.DictReader(file))


def same(a: object, b: object) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def tuning_choices(root: Path) -> str:
    """For each committed sweep: the values tried, the best on val and what params.yaml holds now."""
    rows = []
    for path in sweep_csvs(root):
        name, key, read = swept(root, path)
        best = min(read, key=lambda r: nll(r["val"]))
        now = models(root).get(name, {}).get(key)
        rows.append(
            [
                f"`models.{name}.{key}`",
                ", ".join(r["value"] for r in read),
                f"{best['value']} (val {f5(best['val'])})",
                f"{value(now)}" + ("" if same(now, best["value"]) else " (not the sweep's best)"),
                f"`{path.relative_to(root)}`",
            ]
        )
    return table(["param", "values tried", "best on val (its val NLL)", "in params.yaml", "sweep"], rows)


def sweeps(root: Path) -> str:
    """Every committed sweep in full: one table per swept param."""
    parts = []
    for path in sweep_csvs(root):
        name, key, read = swept(root, path)
        now = models(root).get(name, {}).get(key)
        best = min(read, key=lambda r: nll(r["val"]))
        rows = [
            [
                r["value"],
                f5(r["train"]),
                f"**{f5(r['val'])}**" if r is best else f5(r["val"]),
                "params.yaml" if same(now, r["value"]) else "",
            ]
            for r in read
        ]
        parts.append(
            f"`models.{name}.{key}` (`{path.relative_to(root)}`):\n\n"
            + table([key, "train NLL", "val NLL", ""], rows)
        )
    return "\n\n".join(parts)


def tuning_best(root: Path) -> str:
    best = read_json(root / "tuning" / "best.json")
    rows = [
        [
            f"`{param}`",
            f"`{value(choice['value'])}`",
            f5(choice["val_nll"]),
            f5(choice["test_nll"]),
            choice["commit"],
            f"`{choice['data.path']}`",
        ]
        for param, choice in best.items()
    ]
    return table(["param", "chosen", "val NLL", "test NLL, looked at once", "commit", "data.path"], rows)


def samples(root: Path) -> str:
    """The first 10 words of each model's data/samples/NAME.txt."""
    columns = {}
    for name in models(root):
        path = root / "data" / "samples" / f"{name}.txt"
        if not path.is_file():
            raise GenerationError(
                f"{path.relative_to(root)}: no such file (run `make repro` or `dvc checkout`)"
            )
        columns[name] = path.read_text(encoding="utf-8").split("\n")[:10]
    rows = [list(words) for words in zip(*columns.values())]
    return table(list(columns), rows)


def artifacts(root: Path) -> str:
    """dvc.yaml's `artifacts:`: every instance's model file as a DVC model artifact, in params.yaml's order, with its
    family, its params, its val NLL and the sha256 of the model file that val NLL was measured on as meta."""
    declared = {}
    for name, params in models(root).items():
        evaluated = metrics(root, "evaluate", name)
        val = nll(evaluated["val"]["nll"])
        mixture = params["family"] == "mixture"
        declared[name] = {
            "path": f"data/{'mixtures' if mixture else 'models'}/{name}.pt",
            "type": "model",
            "desc": f"Character-level language model ({params['family']}) trained on "
            f"{read_yaml(root / 'params.yaml')['data']['path']} by {f'mix_{name}' if mixture else f'train@{name}'}",
            "labels": ["makemore", params["family"]],
            "meta": {
                "family": params["family"],
                "params": {key: v for key, v in params.items() if key != "family"},
                "val_nll": val if math.isfinite(val) else "inf",
                "model_sha256": evaluated["model_sha256"],
            },
        }
    dumped = yaml.safe_dump(
        {"artifacts": declared}, sort_keys=False, allow_unicode=True, width=120, default_flow_style=None
    )
    return dumped.strip("\n")


def dag(root: Path, runner: Runner) -> str:
    status, output = runner(Command(("dvc", "dag", "--mermaid")), root)
    if status != 0:
        raise GenerationError(f"dvc dag --mermaid exited {status}: {output}")
    return fence("mermaid", output.strip())


CLI_MODELS = [Command(("makemore", "models"))]
CLI_SCORE = [Command(("makemore", "score", "emma"))]
CLI_SAMPLE = [
    Command(
        ("makemore", "sample", "--num", "5"), "the count model, seed 2147483647: the pipeline's first five"
    ),
    Command(("makemore", "sample", "--model", "kneser_ney", "--num", "5")),
    Command(
        ("makemore", "sample", "--model", "kneser_ney", "--num", "5", "--seed", "7", "--temperature", "0.5")
    ),
    Command(("makemore", "sample", "--model", "trigram", "--temperature", "0.001", "--num", "2")),
    Command(("makemore", "score", "Andrej"), status=1),
]
CLI_ANDREJQ = [Command(("makemore", "score", "andrejq"))]
CLI_FIND = [
    Command(
        ("makemore", "sample", "--model", "kneser_ney", "--num", "5")
        + ("--prefix", "ma", "--suffix", "a", "--length", "5:7", "--novel")
    ),
    Command(("makemore", "top", "--model", "kneser_ney", "--num", "10")),
    Command(("makemore", "top", "--model", "kneser_ney", "--num", "5", "--novel", "--prefix", "ma")),
    Command(("makemore", "top", "--model", "kneser_ney", "--num", "5", "--per-char", "--length", "4:8")),
    Command(("makemore", "score", "--model", "kneser_ney", "--file", "docs/candidates.txt")),
    Command(("makemore", "top", "--prefix", "zzzzzz", "--length", "1:3"), status=1),
]


def param_error(model: str, key: str, value: object) -> Command:
    """The train stage of `model` run with `models.MODEL.KEY` set to `value`, which it refuses."""
    return Command(
        ("python", "-m", "stages.train", model),
        f"models.{model}.{key}: {value}",
        1,
        ((f"models.{model}.{key}", value),),
    )


PARAM_ERRORS = [
    param_error("trigram", "kk", 0.1),
    param_error("trigram", "family", "ngrams"),
    param_error("kneser_ney", "order", 11),
    param_error("kneser_ney", "discounts", [0.5, 1.0, 3.0]),
    param_error("kneser_ney", "k", 1),
]


@dataclass(frozen=True)
class Block:
    kind: str
    make: Callable[[Path, Runner], str]
    commands: tuple[Command, ...] = ()  # a console block's


def from_files(make: Callable[[Path], str]) -> Block:
    return Block(COMMITTED, lambda root, runner: make(root))


def session(kind: str, commands: list[Command]) -> Block:
    return Block(kind, lambda root, runner: console(commands, root, runner), tuple(commands))


BLOCKS: dict[str, Block] = {
    "leaderboard": from_files(leaderboard),
    "artifacts": from_files(artifacts),
    "data-sizes": from_files(data_sizes),
    "params": from_files(params_table),
    "ladder-params": from_files(ladder_params),
    "stages": from_files(stage_table),
    "train-summaries": from_files(train_summaries),
    "optimum-fits": from_files(optimum_fits),
    "ladder-steps": from_files(ladder_steps),
    "curves": from_files(curves),
    "sample-stats": from_files(sample_stats),
    "lengths": from_files(lengths),
    "tuning-choices": from_files(tuning_choices),
    "sweeps": from_files(sweeps),
    "tuning-best": from_files(tuning_best),
    "dag": Block(COMMANDS, dag, (Command(("dvc", "dag", "--mermaid")),)),
    "param-errors": session(COMMANDS, PARAM_ERRORS),
    "cli-models": session(TRAINED, CLI_MODELS),
    "cli-score": session(TRAINED, CLI_SCORE),
    "cli-sample": session(TRAINED, CLI_SAMPLE),
    "cli-andrejq": session(TRAINED, CLI_ANDREJQ),
    "cli-find": session(TRAINED, CLI_FIND),
    "samples": Block(TRAINED, lambda root, runner: samples(root)),
}


# --- the files ------------------------------------------------------------------------------------------------


def documents(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md")), root / "dvc.yaml"]


def shown(root: Path) -> dict[str, tuple[Path, str]]:
    """Each block as the docs show it now: its file and its text between the markers (without blank edges)."""
    found = {}
    for path in documents(root):
        for match in MARKER.finditer(path.read_text(encoding="utf-8")):
            name = match[2]
            if name in found:
                raise GenerationError(
                    f"{path.relative_to(root)}: block {name} is also in {found[name][0].relative_to(root)}"
                )
            if name not in BLOCKS:
                raise GenerationError(
                    f"{path.relative_to(root)}: no such generated block: {name} (the blocks: {', '.join(BLOCKS)})"
                )
            found[name] = (path, match[3].strip("\n"))
    if missing := set(BLOCKS) - set(found):
        raise GenerationError(f"no doc shows the block(s) {', '.join(sorted(missing))}")
    return found


def rewrite(text: str, blocks: dict[str, str]) -> str:
    return MARKER.sub(lambda m: f"{m[1]}\n{blocks[m[2]]}\n\n{m[4]}" if m[2] in blocks else m[0], text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="rewrite nothing; name each stale block and exit 1"
    )
    args = parser.parse_args()
    try:
        current = shown(ROOT)
        made = {name: block.make(ROOT, run_command) for name, block in BLOCKS.items()}
    except GenerationError as e:
        sys.exit(f"error: {e}")
    stale = [name for name in BLOCKS if made[name].strip("\n") != current[name][1]]
    if args.check:
        for name in stale:
            print(f"stale: {current[name][0].relative_to(ROOT)}: {name} (make docs regenerates it)")
        sys.exit(1 if stale else 0)
    for path in documents(ROOT):
        text = path.read_text(encoding="utf-8")
        if (new := rewrite(text, made)) != text:
            path.write_text(new, encoding="utf-8")
    print(f"{len(BLOCKS)} blocks, {len(stale)} rewritten: {', '.join(stale) or 'none'}")


if __name__ == "__main__":
    main()
