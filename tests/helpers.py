"""Helpers shared by the tests: the real default data, and a real DVC copy of the project."""

import contextlib
import hashlib
import io
import math
import os
import re
import runpy
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from makemore.models import FAMILIES
from makemore.models.network import Network

ROOT = Path(__file__).resolve().parents[1]
# the venv's: its `python` and `dvc` run the stages (conftest puts it on PATH)
BIN = Path(sys.executable).parent


def run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def call(main: Callable[[], object], cwd: Path) -> Result:
    """Run `main` in this process from `cwd`, as its command would run: what it prints, and its exit status
    (a `sys.exit("message")` prints the message on stderr and exits 1, as the interpreter does)."""
    stdout, stderr, before = io.StringIO(), io.StringIO(), Path.cwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
        if isinstance(e.code, str):
            print(e.code, file=stderr)
    finally:
        os.chdir(before)
    return Result(code, stdout.getvalue(), stderr.getvalue())


def stage_in_process(cwd: Path, name: str, *args: str) -> Result:
    """Run `python stages/NAME.py ARGS` in this process: the stage's own code, without the 2 s of importing torch."""

    def main():
        argv = sys.argv
        sys.argv = [str(ROOT / "stages" / f"{name}.py"), *args]
        try:
            runpy.run_path(sys.argv[0], run_name="__main__")
        finally:
            sys.argv = argv

    return call(main, cwd)


def set_params(folder: Path, **changes: object) -> None:
    """Change folder/params.yaml, e.g. set_params(folder, models__count__k=0.5) sets models.count.k."""
    params = yaml.safe_load((folder / "params.yaml").read_text())
    for key, value in changes.items():
        *sections, name = key.split("__")
        section = params
        for part in sections:
            section = section[part]
        section[name] = value
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


NETWORK_FAMILIES = tuple(name for name, family in FAMILIES.items() if issubclass(family, Network))


def curve_files(folder: Path, name: str) -> list[str]:
    """The curves the train stage of model `name` logged with DVCLive (train, val, and what its family adds)."""
    logged = (folder / f"metrics/train/{name}/plots/metrics").glob("*/nll.tsv")
    return sorted(str(path.relative_to(folder)) for path in logged)


def network_models(folder: Path) -> set[str]:
    return {
        name
        for name, model in yaml.safe_load((folder / "params.yaml").read_text())["models"].items()
        if model["family"] in NETWORK_FAMILIES
    }


# A count model the shared project leaves out: the mixture's second Kneser-Ney, whose 11 MB file would ride along
# in every copy of the project, for code that kneser_ney runs too.
LEFT_OUT_OF_SHARED_PROJECT = {"kneser_ney_10"}


def small_ladder(folder: Path) -> None:
    """Drop from folder/params.yaml the neural models, whose full training takes minutes (tests/test_networks.py
    runs their stages on tiny instances), and the models of LEFT_OUT_OF_SHARED_PROJECT. The default mixture then
    mixes the trigram and Kneser-Ney models."""
    params = yaml.safe_load((folder / "params.yaml").read_text())
    params["models"] = {
        name: model
        for name, model in params["models"].items()
        if model["family"] not in NETWORK_FAMILIES and name not in LEFT_OUT_OF_SHARED_PROJECT
    }
    params["mixtures"]["mixture"]["of"] = ["trigram", "kneser_ney"]
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    pipeline = yaml.safe_load((folder / "dvc.yaml").read_text())
    stage = pipeline["stages"]["mix_mixture"]
    stage["deps"] = [f"data/models/{name}.pt" for name in params["mixtures"]["mixture"]["of"]] + [
        dep for dep in stage["deps"] if not dep.startswith("data/models/")
    ]
    (folder / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))


def keep_models(folder: Path, names: list[str]) -> None:
    """Keep only the models `names` in folder/params.yaml, and no mixture (nor its stage in dvc.yaml)."""
    params = yaml.safe_load((folder / "params.yaml").read_text())
    params["models"] = {name: params["models"][name] for name in names}
    params["mixtures"] = {}
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    pipeline = yaml.safe_load((folder / "dvc.yaml").read_text())
    pipeline["stages"] = {
        name: stage for name, stage in pipeline["stages"].items() if not name.startswith("mix_")
    }
    (folder / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))


def default_words() -> list[str]:
    return (ROOT / "data" / "names.txt").read_text(encoding="utf-8").split()


def word_bigrams(word: str) -> list[tuple[str, str]]:
    """The bigrams of one word, with "<b>" for the boundary token."""
    chars = ["<b>", *word, "<b>"]
    return list(zip(chars, chars[1:]))


def additive_nll(train: list[str], words: list[str], order: int, k: float, size: int) -> float:
    """NLL of `words` under (c(h, w) + k) / (c(h) + kV) with counts of padded n-grams from `train`, by Python counters."""
    ngrams, contexts = Counter(), Counter()
    for word in train:
        tokens = ["<b>"] * (order - 1) + list(word) + ["<b>"]
        for i in range(order - 1, len(tokens)):
            ngrams[tuple(tokens[i - order + 1 : i + 1])] += 1
            contexts[tuple(tokens[i - order + 1 : i])] += 1
    total, n = 0.0, 0
    for word in words:
        tokens = ["<b>"] * (order - 1) + list(word) + ["<b>"]
        for i in range(order - 1, len(tokens)):
            context = tuple(tokens[i - order + 1 : i])
            p = (
                (ngrams[(*context, tokens[i])] + k) / (contexts[context] + k * size)
                if contexts[context] + k
                else 1 / size
            )
            total += -math.log(p) if p > 0 else math.inf
            n += 1
    return total / n


class Project:
    """A temporary git + DVC copy of the project, driven with the real `dvc` command."""

    def __init__(self, path: Path):
        self.path = path

    def dvc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run(["dvc", *args], self.path, check)

    def repro(self, *args: str, check: bool = True) -> list[str]:
        """Run `dvc repro` and return the names of the stages that actually ran."""
        result = self.dvc("repro", *args, check=check)
        self.last = result
        return re.findall(r"^Running stage '([^']+)'", result.stdout, flags=re.M)

    def set_params(self, **changes: object) -> None:
        set_params(self.path, **changes)

    def outputs(self) -> dict[str, str]:
        """sha256 of every file the pipeline wrote, by path, but the training times (metrics/time), new on every run."""
        folders = ("data/prepared", "data/bigrams", "data/models", "data/samples", "data/scores", "metrics")
        # DVC's, not written by a stage
        files = [
            p for d in folders for p in (self.path / d).rglob("*") if p.is_file() and p.name != ".gitignore"
        ]
        files = [p for p in files if not p.is_relative_to(self.path / "metrics/time")]
        return {
            str(p.relative_to(self.path)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(files)
        }

    def lock_without_times(self) -> dict:
        """dvc.lock's stages without the hashes of the training times (metrics/time), new on every run."""
        stages = yaml.safe_load((self.path / "dvc.lock").read_text())["stages"]
        for entry in stages.values():
            entry["outs"] = [
                out for out in entry.get("outs", []) if not out["path"].startswith("metrics/time/")
            ]
        return stages

    def git(self, *args: str) -> str:
        return run(["git", *args], self.path).stdout


def copy_project(dest: Path, words: list[str] | None) -> Project:
    """The committed project (work tree files, no .git, no DVC cache) in a new git repo; `words` replaces the data."""
    tracked = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT).stdout.split(
        "\0"
    )
    for name in filter(None, tracked):
        if (ROOT / name).is_file() and not name.startswith("metrics/"):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    if words is not None:
        (dest / "data" / "names.txt").write_text("".join(f"{w}\n" for w in words), encoding="utf-8")
    project = Project(dest)
    project.git("init", "-q")
    project.git("add", "-A")
    project.git("-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-qm", "copy")
    return project


def commit_all(project: Project, message: str) -> None:
    project.git("add", "-A")
    project.git("-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-qm", message)


# Each constraint alone, and all at once; "exclude" is filled in with a file of words by the test.
CONSTRAINT_SETS = [
    {"prefix": "ma"},
    {"suffix": "a"},
    {"contains": "an"},
    {"length": "4:6"},
    {"novel": True},
    {"exclude": None},
    {"prefix": "m", "suffix": "a", "contains": "ar", "length": "4:7", "novel": True, "exclude": None},
]


def meets(word: str, given: dict, data: set[str], excluded: list[str], max_len: int) -> bool:
    """Whether a word meets a set of CONSTRAINT_SETS, by plain string tests; `data`: the words novel rules out."""
    shortest, longest = map(int, given.get("length", f"1:{max_len}").split(":"))
    return (
        word.startswith(given.get("prefix", ""))
        and word.endswith(given.get("suffix", ""))
        and given.get("contains", "") in word
        and shortest <= len(word) <= longest
        and not (given.get("novel") and word in data)
        and not ("exclude" in given and word in excluded)
    )


def assert_every_constraint_holds(trained, excluded: list[str], tmp_path: Path, max_len: int) -> None:
    """Each word that `trained` (an api.Trained with a data file) samples or ranks under each set of CONSTRAINT_SETS
    meets it; the ranked ones come most probable first."""
    exclude = tmp_path / "exclude.txt"
    exclude.write_text("".join(f"{word}\n" for word in excluded), encoding="utf-8")
    data = set(trained.data_file.read_text(encoding="utf-8").split())
    for given in CONSTRAINT_SETS:
        constraints = given | ({"exclude": str(exclude)} if "exclude" in given else {})
        words = trained.sample(20, seed=5, max_len=max_len, **constraints)
        failed = [word for word in words if not meets(word, given, data, excluded, max_len)]
        assert len(words) == 20 and not failed, (given, failed)
        shortest, longest = given.get("length", "1:8").split(":")
        bounded = {"length": f"{shortest}:{min(int(longest), 8)}"}  # a short bound keeps the search small
        top = trained.top(5, **(constraints | bounded))
        failed = [word for word in top["word"] if not meets(word, given, data, excluded, max_len)]
        assert len(top) == 5 and not failed, (given, top)
        assert top["log_p"].is_monotonic_decreasing
