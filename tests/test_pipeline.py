"""The pipeline driven by the real `dvc` in a temporary git copy of the project."""

import json
import math
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import LEFT_OUT_OF_SHARED_PROJECT, ROOT, Project, additive_nll, default_words, network_models
from tolerance import differences

# Loaded into every Python process of a run when its directory is on PYTHONPATH. In the train stage
# only, the first file written is cut off half-way and the process is killed with SIGKILL.
KILL_MID_WRITE = """
import builtins, os, signal, sys
_open = open
class _HalfThenDie:
    def __init__(self, f): self.f = f
    def __enter__(self): return self
    def __exit__(self, *exc): return False
    def write(self, data):
        self.f.write(data[: len(data) // 2])
        self.f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
def _writer(file, mode="r", *a, **k):  # sys.argv[0] is the stage's path once `python -m` has found it
    f = _open(file, mode, *a, **k)
    temporary = os.path.basename(str(file)).startswith(".") and str(file).endswith(".tmp")
    return _HalfThenDie(f) if "w" in mode and temporary and sys.argv[0].endswith("stages/train.py") else f
builtins.open = _writer
"""


def branch(name: str) -> set[str]:
    """The files that a change of the model `name` may change (for a family whose curve has an optimum)."""
    return {
        f"data/models/{name}.pt",
        f"metrics/train/{name}/metrics.json",
        f"metrics/evaluate/{name}.json",
        *(f"metrics/train/{name}/plots/metrics/{column}/nll.tsv" for column in ("train", "val", "optimum")),
        f"data/samples/{name}.txt",
        f"metrics/sample/{name}.json",
        f"metrics/sample/{name}_lengths.csv",
        f"data/scores/{name}.tsv",
        "metrics/compare.json",  # every model against the best
    }


def metrics_shown(project):
    """What `dvc metrics show --json` parsed from the workspace, by file."""
    (workspace,) = json.loads(project.dvc("metrics", "show", "--json").stdout).values()
    return {path: entry["data"] for path, entry in workspace["data"].items()}


def split_words(project, split):
    return (project.path / f"data/prepared/{split}.txt").read_text(encoding="utf-8").split("\n")[:-1]


def test_full_run_writes_every_output_and_honest_metrics(project):
    assert "Data and pipelines are up to date" in project.dvc("status").stdout
    shown = metrics_shown(project)
    params = yaml.safe_load((project.path / "params.yaml").read_text())
    for model in params["models"]:
        metrics = shown[f"metrics/evaluate/{model}.json"]
        for split in ("train", "val", "test"):
            words = split_words(project, split)
            # every word of n characters has n + 1 predicted tokens, its characters and its end
            assert metrics[split]["tokens"] == sum(len(w) + 1 for w in words)
            assert 1.5 < metrics[split]["nll"] < math.log(27)
            assert metrics[split]["perplexity"] == round(math.exp(metrics[split]["nll"]), 4)
        samples = (project.path / f"data/samples/{model}.txt").read_text().split("\n")[:-1]
        assert len(samples) == params["sample"]["num"]
        # a model is fitted on train: it must do better there than on held-out words
        assert metrics["train"]["nll"] < metrics["val"]["nll"]
    assert sorted(sum((split_words(project, s) for s in ("train", "val", "test")), [])) == sorted(
        (project.path / "data/names.txt").read_text().split()
    )
    assert (project.path / "metrics/count_grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_ladder_climbs_and_the_lectures_models_keep_their_numbers(project):
    val = {
        path.split("/")[-1][:-5]: data["val"]["nll"]
        for path, data in metrics_shown(project).items()
        if path.startswith("metrics/evaluate/")
    }
    test = metrics_shown(project)["metrics/evaluate/kneser_ney.json"]["test"]["nll"]
    assert val["kneser_ney"] < min(val["trigram"], val["trigram_nn"]) and max(
        val["trigram"], val["trigram_nn"]
    ) < min(val["count"], val["nn"])
    assert test <= 2.005
    train = metrics_shown(project)["metrics/evaluate/count.json"]["train"]["nll"]
    # the lecture's count model, by Python counters over the train split
    words = split_words(project, "train")
    assert train == pytest.approx(additive_nll(words, words, order=2, k=1, size=27), abs=1e-6)


@pytest.mark.long
def test_adding_a_model_runs_only_its_branch_and_removing_it_changes_nothing_else(project):
    before = project.outputs()
    params = yaml.safe_load((project.path / "params.yaml").read_text())
    params["models"]["fourgram"] = {
        "family": "ngram",
        "order": 4,
        "smoothing": "kneser_ney",
        "discounts": None,
    }
    (project.path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert set(project.repro()) == {"train@fourgram", "evaluate@fourgram", "sample@fourgram", "compare"}
    assert set(project.outputs()) - set(before) == branch("fourgram") - {"metrics/compare.json"}
    assert all(
        project.outputs()[path] == digest for path, digest in before.items() if path != "metrics/compare.json"
    )
    fourgram = metrics_shown(project)["metrics/evaluate/fourgram.json"]["val"]["nll"]
    assert (
        metrics_shown(project)["metrics/evaluate/kneser_ney.json"]["val"]["nll"]
        < fourgram
        < metrics_shown(project)["metrics/evaluate/trigram.json"]["val"]["nll"]
    )

    del params["models"]["fourgram"]
    (project.path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    # only the comparison reruns (data/scores still holds the removed model's scores), to the same file as before
    assert project.repro() == ["compare"]
    assert project.outputs()["metrics/compare.json"] == before["metrics/compare.json"]
    assert "Data and pipelines are up to date" in project.dvc("status").stdout


@pytest.mark.long
def test_the_learning_rate_reruns_only_the_nn_branch_after_a_kill_mid_write_and_setting_it_back_uses_the_run_cache(
    project, tmp_path
):
    before = project.outputs()
    project.set_params(models__nn__lr=10)

    # the train stage killed half-way through its first write leaves no half-written file under its name
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook/sitecustomize.py").write_text(KILL_MID_WRITE)
    killed = subprocess.run(
        ["dvc", "repro"],
        cwd=project.path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "hook")},
    )
    assert killed.returncode != 0 and "Running stage 'train@nn'" in killed.stdout
    models = project.path / "data/models"
    assert not (models / "nn.pt").exists()
    assert [p.name for p in models.iterdir() if p.name.startswith(".nn.pt.")], (
        "the half-written temporary file"
    )

    # and a plain repro recovers: exactly the nn branch runs, the stale temporary file is gone
    assert set(project.repro()) == {"train@nn", "plot_nn", "evaluate@nn", "sample@nn", "compare"}
    assert not [p.name for p in models.iterdir() if p.name.startswith(".nn.pt.")]
    changed = {path for path, digest in project.outputs().items() if before[path] != digest}
    assert {
        "data/models/nn.pt",
        "metrics/evaluate/nn.json",
        "metrics/train/nn/plots/metrics/train/nll.tsv",
    } <= changed
    assert changed <= branch("nn") | {"metrics/nn_grid.png", "metrics/nn_minus_count_grid.png"}

    project.set_params(models__nn__lr=50)
    assert project.repro() == []
    assert project.outputs() == before


def test_a_bad_param_fails_in_one_line_and_loses_nothing(project):
    before = project.outputs()
    project.set_params(models__count__k=-1)
    project.repro(check=False)
    assert project.last.returncode != 0
    errors = [line for line in project.last.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: params.yaml: models.count.k = -1 is invalid: input should be greater than or equal to 0"
    ]

    project.set_params(models__count__k=1)
    assert project.repro() == []
    assert project.outputs() == before


def test_a_misspelt_key_reruns_its_stage_and_is_refused(project):
    project.set_params(models__count__kk=0.5)
    project.repro(check=False)
    assert project.last.returncode != 0
    assert "error: params.yaml: unknown key 'models.count.kk' (did you mean 'k'?)" in project.last.stderr


def not_reproduced(root: Path) -> set[str]:
    """The instances the shared run leaves out (small_ladder), or makes of other models: the neural models and
    LEFT_OUT_OF_SHARED_PROJECT, and the mixtures, which mix other models there."""
    return (
        network_models(root)
        | LEFT_OUT_OF_SHARED_PROJECT
        | set(yaml.safe_load((root / "params.yaml").read_text())["mixtures"])
    )


def reproduced_here(path: Path, networks: set[str]) -> bool:
    """Whether the shared run makes `path`: not the training times (new on every run), nor the files of the
    instances it leaves out (not_reproduced), nor the comparison of all the models (tests/test_compare.py)."""
    return (
        path.parts[:2] != ("metrics", "time")
        and path != Path("metrics/compare.json")
        and not any(name in path.parts or path.stem in (name, f"{name}_lengths") for name in networks)
    )


def test_committed_metrics_are_what_the_default_data_reproduces_on_this_machine_within_tolerance(project):
    """On any CPU and thread count: the committed numbers, each within its tolerance (tests/tolerance.py)."""
    networks = not_reproduced(ROOT)
    assert default_words() == (project.path / "data/names.txt").read_text().split()

    def files(root: Path) -> list[Path]:
        return sorted(
            path
            for path in (p.relative_to(root) for p in (root / "metrics").rglob("*") if p.is_file())
            if reproduced_here(path, networks)
        )

    committed = files(ROOT)
    assert committed == files(project.path)
    num = yaml.safe_load((ROOT / "params.yaml").read_text())["sample"]["num"]
    images = [path for path in committed if path.suffix == ".png"]
    found = differences(ROOT, project.path, [path for path in committed if path not in images], num)
    largest = max(found, key=lambda difference: difference.size)
    print(f"largest difference: {largest}")
    assert [str(difference) for difference in found if not difference.allowed] == []
    # the count grid holds integers only; the net's grids show its probabilities to 3 decimals, which may round apart
    assert (project.path / "metrics/count_grid.png").read_bytes() == (
        ROOT / "metrics/count_grid.png"
    ).read_bytes()


def test_committed_lock_is_what_the_default_data_and_code_give(project):
    """dvc.lock's commands, params and every hash that holds on any machine: the code, the data, the splits,
    the bigram counts (integers). A model's, a sample's or a metric's hash is this machine's (tolerance above)."""
    networks = not_reproduced(ROOT)

    def exact(entries: list[dict]) -> list[tuple[str, str | None]]:
        anywhere = ("stages/", "makemore/", "data/names.txt", "data/prepared", "data/bigrams")
        return [
            (entry["path"], entry.get("md5") if entry["path"].startswith(anywhere) else None)
            for entry in entries
        ]

    def lock(project: Project) -> dict:
        return {
            stage: {
                "cmd": entry["cmd"],
                "params": entry.get("params"),
                "deps": exact(entry.get("deps", [])),
                "outs": exact(entry.get("outs", [])),
            }
            for stage, entry in project.lock_without_times().items()
            # compare reads every model
            if stage.partition("@")[2] not in networks and stage not in ("compare", "mix_mixture")
        }

    assert lock(project) == lock(Project(ROOT))
    # and nothing else: DVC keeps the entry of a stage deleted from dvc.yaml until it is removed by hand
    committed = Project(ROOT)
    stages = committed.dvc("stage", "list", "--name-only").stdout.split()
    assert sorted(committed.lock_without_times()) == sorted(stages)
