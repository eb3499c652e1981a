"""Tune on the dev set with DVC experiments: sweep count.smoothing and train.reg, choose on val NLL only.

    python -m makemore.tune [--smoothing S ...] [--reg R ...] [--jobs N]      (what `make tune` runs)

Each value is one queued `dvc exp run` (named tune-smoothing-S or tune-reg-R) that changes that param
alone, so the run-cache skips every stage off its branch. The queue runs in temporary copies: the
workspace is left as it is. Experiments this command made earlier from the same commit are replaced.
It prints the `dvc exp show` table, then the best value of each param chosen on val, and only then
that choice's test NLL. The sweep's curves go to tuning/*.csv, drawn by `dvc plots show`, and the
choices to tuning/best.json.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from makemore import MakemoreError
from makemore.artifacts import write_json, write_text
from makemore.bigram import SPLITS
from makemore.cli import non_negative, positive_int
from makemore.params import load_params

SWEEPS = {  # param -> (model it tunes, default values)
    "count.smoothing": ("count", [0, 0.01, 0.1, 0.3, 1, 3, 10, 100]),
    "train.reg": ("nn", [0, 0.001, 0.01, 0.1, 1, 10]),
}
PREFIX = "tune-"


def dvc(*args: str) -> str:
    result = subprocess.run(["dvc", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise MakemoreError(f"`dvc {' '.join(args)}` failed:\n{result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def check_data_is_tracked(path: str) -> None:
    """Queued experiments run in a clean copy of the commit, which holds only what git or DVC tracks: the file
    itself in git, or a .dvc file in git (staged at least) for it or for a folder above it."""
    candidates = [path] + [f"{folder}.dvc" for folder in (Path(path), *Path(path).parents[:-1])]
    if subprocess.run(["git", "ls-files", "--", *candidates], capture_output=True, text=True).stdout.strip():
        return
    raise MakemoreError(
        f"data.path = {path} is tracked by neither git nor DVC, so the experiments cannot see it: "
        f"run `dvc add {path}` and commit {path}.dvc first"
    )


def experiment_name(param: str, value: float) -> str:
    return f"{PREFIX}{param.split('.')[1]}-{value:g}"


def experiments_of_head() -> list[dict]:
    """The experiments derived from the current commit, as `dvc exp show --json` describes them."""
    baseline = next(entry for entry in json.loads(dvc("exp", "show", "--json")) if entry["rev"] != "workspace")
    return [run["revs"][0] for run in baseline.get("experiments") or []]


def run_sweep(values: dict[str, list[float]], jobs: int) -> None:
    # by name: of the experiments sharing a name, DVC resolves the one derived from the current commit
    earlier = [exp["name"] for exp in experiments_of_head() if (exp.get("name") or "").startswith(PREFIX)]
    if earlier:
        dvc("exp", "remove", *earlier)
        print(f"Replaced {len(earlier)} earlier tune experiments of this commit.")
    for param, param_values in values.items():
        for value in param_values:
            dvc("exp", "run", "--queue", "--name", experiment_name(param, value), "--set-param", f"{param}={value}")
    print(f"Running {sum(map(len, values.values()))} experiments, {jobs} at a time ...", flush=True)
    dvc("exp", "run", "--run-all", "--jobs", str(jobs))


def results(values: dict[str, list[float]]) -> dict[str, pd.DataFrame]:
    """Per swept param: one row per value with the train, val and test NLL of the model it tunes."""
    by_name = {exp.get("name"): exp for exp in experiments_of_head()}
    tables = {}
    for param, param_values in values.items():
        model = SWEEPS[param][0]
        rows = []
        for value in param_values:
            name = experiment_name(param, value)
            if name not in by_name:
                raise MakemoreError(f"experiment {name} did not finish: see `dvc queue logs {name}`")
            metrics = by_name[name]["data"]["metrics"][f"metrics/evaluate/{model}.json"]["data"]
            # float(): an infinite NLL is written as "inf"
            rows.append({param.split(".")[1]: value, **{split: float(metrics[split]["nll"]) for split in SPLITS}})
        tables[param] = pd.DataFrame(rows)
    return tables


def best(table: pd.DataFrame) -> pd.Series:
    """The row with the lowest val NLL; the first (smallest value) among ties."""
    return table.loc[table["val"].idxmin()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m makemore.tune", description=__doc__.splitlines()[0])
    parser.add_argument("--smoothing", type=non_negative, nargs="*", default=SWEEPS["count.smoothing"][1], help="values of count.smoothing (none: not swept)")
    parser.add_argument("--reg", type=non_negative, nargs="*", default=SWEEPS["train.reg"][1], help="values of train.reg (none: not swept)")
    parser.add_argument("--jobs", type=positive_int, default=2, help="experiments run at once (default: %(default)s)")
    args = parser.parse_args(argv)
    values = {param: swept for param, swept in (("count.smoothing", args.smoothing), ("train.reg", args.reg)) if swept}
    if not values:
        parser.error("nothing to sweep: give values to --smoothing or --reg")
    try:
        data = load_params().data.path
        check_data_is_tracked(data)
        run_sweep(values, args.jobs)
        report(tables=results(values), data=data)
    except MakemoreError as e:
        sys.exit(f"error: {e}")


def report(tables: dict[str, pd.DataFrame], data: str) -> None:
    """Print the sweep and each choice, and write the curves and the choices (tuning/*.csv, tuning/best.json)."""
    print(dvc("exp", "show", "--md", "--no-pager", "--drop", ".*",
              "--keep", r"^(Experiment|count\.smoothing|train\.reg|metrics/evaluate/.*:val\.nll)$"))  # fmt: skip
    best_file = Path("tuning/best.json")
    try:  # a param not swept this time keeps its earlier choice, which says which commit and data it is from
        chosen = json.loads(best_file.read_text()) if best_file.is_file() else {}
    except ValueError as e:
        raise MakemoreError(f"{best_file}: not valid JSON ({e}); delete it to start afresh") from None
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    for param, table in tables.items():
        name = param.split(".")[1]
        write_text(f"tuning/{name}.csv", table[[name, "train", "val"]].to_csv(index=False))
        row = best(table)
        model = SWEEPS[param][0]
        chosen[model] = {param: row[name], "val_nll": row["val"], "test_nll": row["test"], "commit": commit, "data.path": data}
        print(f"{model}: best {param} = {row[name]:g} on val (val NLL {row['val']:.5f}); "
              f"its test NLL, looked at once: {row['test']:.5f}   [dvc exp apply {experiment_name(param, row[name])}]")  # fmt: skip
    write_json(best_file, chosen)


if __name__ == "__main__":
    main()
