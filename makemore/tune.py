"""Tune on the dev set with DVC experiments: sweep any model's params, choose on val NLL only (exercise E03).

    python -m makemore.tune [--sweep models.NAME.KEY VALUE ...] ... [--jobs N]      (what `make tune` runs)

Each value is one queued `dvc exp run` (named tune-NAME-KEY-VALUE) that changes that param alone, so
the run-cache skips every stage off that model's branch. The queue runs in temporary copies: the
workspace is left as it is. Experiments this command made earlier from the same commit are replaced.
It prints the `dvc exp show` table, then the best value of each param chosen on val, and only then
that choice's test NLL. An experiment that failed is named with where its log is, and never chosen or
written; Ctrl-C removes the sweep's queued experiments and interrupts its running ones. Each sweep of
numbers is drawn as a curve, tuning/sweeps/NAME.KEY.csv, by `dvc plots show`, and the choices go to
tuning/best.json.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from ruamel.yaml import YAMLError

from makemore import MakemoreError, handle_interrupts
from makemore.artifacts import write_json, write_text
from makemore.models import FAMILIES
from makemore.params import load_params, parse_yaml, positive_int, validated
from makemore.vocab import SPLITS

DEFAULT_SWEEPS = {  # the exercises' sweeps: the trigram's k, the trigram net's reg, and the Kneser-Ney order
    "models.trigram.k": [0, 0.01, 0.03, 0.1, 0.3, 1],
    "models.trigram_nn.reg": [0, 0.0001, 0.001, 0.01, 0.1],
    "models.kneser_ney.order": [3, 4, 5, 6, 7, 8],
}
PREFIX = "tune-"


def dvc(*args: str) -> str:
    result = subprocess.run(["dvc", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise MakemoreError(
            f"`dvc {' '.join(args)}` failed:\n{result.stderr.strip() or result.stdout.strip()}"
        )
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


def experiment_name(param: str, value: object) -> str:
    """tune-NAME-KEY-VALUE, with what a git ref cannot hold in VALUE (a list's brackets and commas) made `_`."""
    _, name, key = param.split(".")
    return f"{PREFIX}{name}-{key}-" + re.sub(r"[^A-Za-z0-9.+-]+", "_", json.dumps(value)).strip("_")


def checked_sweeps(sweeps: list[list[str]]) -> dict[str, list[object]]:
    """`--sweep PARAM VALUE ...` as {PARAM: [values]}, each value read as YAML and checked by the model's family."""
    models = load_params().models
    checked = {}
    for param, *texts in sweeps:
        parts = param.split(".")
        if len(parts) != 3 or parts[0] != "models" or parts[1] not in models:
            raise MakemoreError(
                f"--sweep {param}: not a model's param, models.NAME.KEY with NAME one of {', '.join(models)}"
            )
        _, name, key = parts
        family = FAMILIES.get(models[name].get("family"))
        if family is None or key not in family.Config.model_fields or key == "family":
            raise MakemoreError(f"--sweep {param}: models.{name} has no param {key!r}")
        if not texts:
            raise MakemoreError(f"--sweep {param}: give at least one value")
        values = [sweep_value(param, text) for text in texts]
        for value in values:  # a bad value fails here, in one line, rather than in its experiment
            validated(family.Config, {**models[name], key: value}, f"--sweep {param}", loc=("models", name))
        checked[param] = values
    return checked


def sweep_value(param: str, text: str) -> object:
    """`text` read as YAML, as DVC reads the params.yaml it writes the value into (`1e-3` is a number)."""
    try:
        return parse_yaml(text)
    except YAMLError as e:
        raise MakemoreError(
            f"--sweep {param}: {text!r} is not valid YAML ({getattr(e, 'problem', e)})"
        ) from None


def experiments_of_head() -> list[dict]:
    """The experiments derived from the current commit, as `dvc exp show --json` describes them."""
    baseline = next(
        entry for entry in json.loads(dvc("exp", "show", "--json")) if entry["rev"] != "workspace"
    )
    return [run["revs"][0] for run in baseline.get("experiments") or []]


def run_sweep(sweeps: dict[str, list[object]], jobs: int) -> None:
    # by name: of the experiments sharing a name, DVC resolves the one derived from the current commit
    earlier = [exp["name"] for exp in experiments_of_head() if (exp.get("name") or "").startswith(PREFIX)]
    if earlier:
        dvc("exp", "remove", *earlier)
        print(f"Replaced {len(earlier)} earlier tune experiments of this commit.")
    runs = {
        experiment_name(param, value): f"{param}={json.dumps(value)}"
        for param, values in sweeps.items()
        for value in values
    }
    # idle OpenMP threads sleep: spinning, they steal the cores of the other runs (8x slower stages)
    if jobs > 1:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    runner = None
    try:
        for name, setting in runs.items():
            dvc("exp", "run", "--queue", "--name", name, "--set-param", setting)
        print(f"Running {len(runs)} experiments, {jobs} at a time ...", flush=True)
        # a session of its own: every process of the queue's run is in it, whatever process groups DVC makes
        runner = subprocess.Popen(
            ["dvc", "exp", "run", "--run-all", "--jobs", str(jobs)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        out, err = runner.communicate()
    except KeyboardInterrupt:
        stop(list(runs), runner.pid if runner else None)
        raise
    if runner.returncode != 0:
        raise MakemoreError(f"`dvc exp run --run-all` failed:\n{err.strip() or out.strip()}")


def stop(names: list[str], runner: int | None) -> None:
    """Ctrl-C: remove the sweep's queued experiments, then interrupt the running ones and wait for them to end.

    `dvc exp run --run-all` (here `runner`, which leads a session) runs the queue in a process group of its own,
    which a terminal's Ctrl-C never reaches: its experiments would go on in the background. Removed one name
    at a time, as DVC refuses a whole list if one of its tasks is not queued.
    """
    print(
        "stopping the sweep: its queued experiments removed, its running ones interrupted ...",
        file=sys.stderr,
        flush=True,
    )
    for name in names:
        subprocess.run(["dvc", "queue", "remove", name], capture_output=True)
    signal_session(runner, signal.SIGINT)  # each stage ends at once, and its experiment is marked failed
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(
        running(line, names) for line in dvc("queue", "status").splitlines()
    ):
        time.sleep(0.5)
    # what is left is DVC's idle queue worker, which would linger a minute
    signal_session(runner, signal.SIGKILL)


def running(status_line: str, names: list[str]) -> bool:
    """Whether a line of `dvc queue status` (TASK NAME CREATED STATUS) is one of `names` still running."""
    fields = status_line.split()
    return len(fields) > 2 and fields[1] in names and fields[-1] == "Running"


def signal_session(session: int | None, sig: signal.Signals) -> None:
    for group in session_groups(session):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:  # ended meanwhile
            pass


def session_groups(session: int | None) -> set[int]:
    """The process groups of the processes in `session` (Linux's /proc; elsewhere the leader's group only)."""
    if session is None:
        return set()
    pids = [int(proc.name) for proc in Path("/proc").glob("[0-9]*")] or [session]
    groups = set()
    for pid in pids:
        try:
            if os.getsid(pid) == session:
                groups.add(os.getpgid(pid))
        except OSError:  # ended meanwhile
            pass
    return groups


def results(sweeps: dict[str, list[object]]) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Per swept param: one row per value whose experiment succeeded, with the train, val and test NLL of its
    model; and the names of the experiments that failed (a failed one keeps its baseline's metrics: never read)."""
    by_name = {exp.get("name"): exp for exp in experiments_of_head()}
    tables, failed = {}, []
    for param, values in sweeps.items():
        name = param.split(".")[1]
        rows = []
        for value in values:
            experiment = by_name.get(experiment_name(param, value))
            if experiment is None or experiment.get("error") or not experiment.get("data"):
                failed.append(experiment_name(param, value))
                continue
            metrics = experiment["data"]["metrics"][f"metrics/evaluate/{name}.json"]["data"]
            # float() because an infinite NLL is written as "inf"
            rows.append({"value": value, **{split: float(metrics[split]["nll"]) for split in SPLITS}})
        if rows:
            table = pd.DataFrame(rows)
            # the value as given, so that 0 stays 0 beside 0.1
            tables[param] = table.assign(value=pd.Series(table["value"].tolist(), dtype=object))
    return tables, failed


def best(table: pd.DataFrame) -> pd.Series:
    """The row with the lowest val NLL; the first among ties."""
    return table.loc[table["val"].idxmin()]


def main(argv: list[str] | None = None) -> None:
    handle_interrupts()  # Ctrl-C ends the sweep with one line, `interrupted`, once its experiments are stopped
    parser = argparse.ArgumentParser(prog="python -m makemore.tune", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sweep",
        nargs="+",
        action="append",
        metavar=("models.NAME.KEY", "VALUE"),
        help="a model's param and its values, each read as YAML; repeat for more params "
        f"(default: {'; '.join(param + ' ' + ' '.join(map(str, values)) for param, values in DEFAULT_SWEEPS.items())})",
    )
    parser.add_argument(
        "--jobs", type=positive_int, default=2, help="experiments run at once (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    try:
        sweeps = checked_sweeps(
            args.sweep or [[param, *map(str, values)] for param, values in DEFAULT_SWEEPS.items()]
        )
        data = load_params().data.path
        check_data_is_tracked(data)
        run_sweep(sweeps, args.jobs)
        tables, failed = results(sweeps)
        if tables:
            report(tables, data)
        if failed:
            logs = "; ".join(f"dvc queue logs {name}" for name in failed)
            raise MakemoreError(
                f"{len(failed)} experiment(s) failed, so neither chosen nor written: {', '.join(failed)} (their logs: {logs})"
            )
    except MakemoreError as e:
        sys.exit(f"error: {e}")


def sweep_table(tables: dict[str, pd.DataFrame]) -> str:
    """`dvc exp show` of the swept params and their models' val NLL, as Markdown."""
    params = "|".join(re.escape(param.removeprefix("models.")) for param in tables)
    models = "|".join(sorted({re.escape(param.split(".")[1]) for param in tables}))
    kept = rf"^(Experiment|models\.({params})|metrics/evaluate/({models})\.json:val\.nll)$"
    return dvc("exp", "show", "--md", "--no-pager", "--drop", ".*", "--keep", kept)


def earlier_choices(best_file: Path) -> dict:
    """The choices of earlier sweeps: a param not swept this time keeps its own, which says which commit and
    data it is from."""
    try:
        return json.loads(best_file.read_text()) if best_file.is_file() else {}
    except ValueError as e:
        raise MakemoreError(f"{best_file}: not valid JSON ({e}); delete it to start afresh") from None


def report(tables: dict[str, pd.DataFrame], data: str) -> None:
    """Print the sweep and each choice, and write the curves and the choices (tuning/sweeps/*.csv, tuning/best.json)."""
    print(sweep_table(tables))
    best_file = Path("tuning/best.json")
    chosen = earlier_choices(best_file)
    # the experiments run on the commit plus the workspace's changes: "-dirty" says there were some
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True
    ).stdout.strip()
    for param, table in tables.items():
        # a curve needs a number line
        if all(isinstance(value, int | float) and not isinstance(value, bool) for value in table["value"]):
            write_text(
                f"tuning/sweeps/{param.removeprefix('models.')}.csv",
                table[["value", "train", "val"]].to_csv(index=False),
            )
        row = best(table)
        value = table["value"][row.name]
        chosen[param] = {
            "value": value,
            "val_nll": row["val"],
            "test_nll": row["test"],
            "commit": commit,
            "data.path": data,
        }
        print(
            f"best {param} = {value} on val (val NLL {row['val']:.5f}); "
            f"its test NLL, looked at once: {row['test']:.5f}   [dvc exp apply {experiment_name(param, value)}]"
        )
    write_json(best_file, chosen)


if __name__ == "__main__":
    main()
