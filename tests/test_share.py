"""Sharing the models the DVC way, for real: a local DVC remote and a bare git remote, a teammate's fresh clone
that pulls instead of training, the models as DVC artifacts fetched from outside the project, and experiments
pushed and pulled."""

import os
import re
from pathlib import Path

import pytest
from dvc.repo import Repo
from helpers import ROOT, Project, call, commit_all, run

from makemore import cli
from makemore.api import load_file
from makemore.models.files import model_file
from makemore.params import load_params, read_params


@pytest.fixture
def identity(monkeypatch):
    """Who commits and tags in the copies (git, DVC's experiments, GTO), whatever the machine's git config."""
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "teammate")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "teammate@example.com")


def makemore(folder: Path, *args: str) -> str:
    result = call(lambda: cli.main(list(args)), folder)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_every_model_of_params_yaml_is_a_model_artifact_that_dvc_reads():
    with Repo(ROOT) as repo:
        declared = repo.artifacts.read()["dvc.yaml"]
    params = load_params(ROOT / "params.yaml")
    assert list(declared) == list(params.instances)
    for name, artifact in declared.items():
        assert (artifact.path, artifact.type) == (model_file(name, params), "model")
        family = params.instances[name]["family"]
        assert artifact.meta["family"] == family and family in artifact.labels


@pytest.mark.long
def test_a_teammate_pulls_the_models_instead_of_training_and_shares_experiments_back(
    project, tmp_path, identity
):
    origin, storage = tmp_path / "origin.git", tmp_path / "storage"
    run(["git", "init", "-q", "--bare", "--initial-branch=main", str(origin)], tmp_path)
    # the README's way: a default DVC remote (a local folder here; S3 or SSH the same way), committed
    project.dvc("remote", "add", "-d", "storage", str(storage))
    commit_all(project, "a DVC remote")
    project.git("remote", "add", "origin", str(origin))
    project.git("push", "-q", "origin", "HEAD:main")
    project.dvc("push")
    run(["gto", "register", "kneser_ney"], project.path)  # a version of one model: the tag kneser_ney@v0.0.1
    project.git("push", "-q", "origin", "--tags")

    teammate = Project(tmp_path / "teammate")
    run(["git", "clone", "-q", str(origin), str(teammate.path)], tmp_path)
    teammate.dvc("pull")
    assert "Data and pipelines are up to date" in teammate.dvc("status").stdout
    assert teammate.repro() == []  # nothing to train
    for name in ("kneser_ney", "count"):
        sampled = makemore(teammate.path, "sample", "--model", name, "--num", "5")
        assert sampled == makemore(project.path, "sample", "--model", name, "--num", "5")

    # a model artifact from outside any project, by the git URL; it loads alone
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    got = run(["dvc", "artifacts", "get", str(origin), "kneser_ney", "-o", "kneser_ney.pt"], elsewhere)
    assert got.stdout == "Downloaded 1 file(s) to 'kneser_ney.pt'\n" and got.stderr == ""
    fetched = elsewhere / "kneser_ney.pt"
    assert fetched.read_bytes() == (project.path / "data/models/kneser_ney.pt").read_bytes()
    model = load_file(fetched)
    assert model.name == "kneser_ney"
    assert model.sample(5) == makemore(project.path, "sample", "--model", "kneser_ney", "--num", "5").split()

    # an experiment (one model's param: only its branch runs), pushed with its models and pulled by the teammate;
    # DVC writes its value as `5e-05`, which YAML 1.1 would read as a string
    ran = project.dvc("exp", "run", "--name", "count-k-tiny", "--set-param", "models.count.k=0.00005").stdout
    assert set(re.findall(r"^Running stage '([^']+)'", ran, flags=re.M)) == {
        "train@count",
        "evaluate@count",
        "sample@count",
        "compare",
    }
    assert "k: 5e-05" in (project.path / "params.yaml").read_text()
    project.dvc("exp", "push", "origin", "count-k-tiny")
    teammate.dvc("exp", "pull", "origin", "count-k-tiny")
    assert teammate.dvc("exp", "list", "--name-only").stdout.split() == ["count-k-tiny"]
    teammate.dvc("exp", "apply", "count-k-tiny")
    assert read_params(teammate.path / "params.yaml")["models"]["count"]["k"] == 0.00005
    for path in ("metrics/evaluate/count.json", "data/models/count.pt"):
        assert (teammate.path / path).read_bytes() == (project.path / path).read_bytes()
    assert "Data and pipelines are up to date" in teammate.dvc("status").stdout
    assert os.listdir(teammate.path / "data/models") == os.listdir(project.path / "data/models")
