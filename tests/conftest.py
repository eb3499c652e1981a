import os
import shutil
import signal
from pathlib import Path

import pytest
from filelock import FileLock

# Idle OpenMP threads sleep instead of spinning, in this process and every stage it runs: set before torch loads
# OpenMP. Two workers, each with torch and the stages it starts, share 2 cores; spinning threads steal them, and a
# stage of small steps ran 8 times slower. (A lone training run is faster with spinning: only the tests set it.)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Ctrl-C reaches the stages that the tests interrupt, even when the suite itself was started with SIGINT ignored
# (as a shell without job control starts a command put in the background: `make test &` in a script, or nohup).
# An ignored signal stays ignored across exec; a handled one is reset to the default there.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

from helpers import BIN, Project, commit_all, copy_project, small_ladder  # noqa: E402

# The venv's `python` and `dvc` first on PATH, as `make test` has them, for the commands that tests run in
# this process (makemore.tune calls `dvc`, and DVC runs the stages with `python`) and in subprocesses.
os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ['PATH']}"


@pytest.fixture(scope="session")
def reproduced_template(tmp_path_factory, worker_id) -> Path:
    """The project as committed (the default data), fully reproduced once with the real `dvc repro` and committed;
    without its neural models, whose training takes minutes, and the other models small_ladder leaves out.

    The one full run of the session, shared by every pytest-xdist worker: the first to get here builds it
    under a file lock, the others wait for it. Tests that change something work on a copy (`project`).
    """
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent  # the run's folder, above each worker's own
    path = shared / "template"
    with FileLock(shared / "template.lock"):
        if not (path / ".git").is_dir():
            building = shared / "template.building"
            shutil.rmtree(building, ignore_errors=True)
            building.mkdir()
            project = copy_project(building, words=None)
            small_ladder(project.path)
            project.repro()
            commit_all(project, "reproduced")
            building.rename(path)
    return path


@pytest.fixture
def project(reproduced_template, tmp_path) -> Project:
    """A private copy of the reproduced template (work tree, git history and DVC cache)."""
    dest = tmp_path / "project"
    shutil.copytree(reproduced_template, dest, symlinks=True)
    return Project(dest)


def pytest_collection_modifyitems(items):
    """The slowest test first, then the tests that use the reproduced project (a copy or itself), then the rest;
    within each, the long ones first, so that no worker starts one when the other is nearly done.

    With two workers and `--dist worksteal` (the Makefile's), each starts on one half of this list: one
    builds the shared project for the tune test while the other begins with the tests of the second half,
    which do not need it, and the worker that runs dry takes queued tests from the other.
    """

    def order(item):
        shared = {"project", "reproduced_template"} & set(getattr(item, "fixturenames", ()))
        return ("tune_on_a_users_own" not in item.name, not shared, item.get_closest_marker("long") is None)

    items.sort(key=order)
