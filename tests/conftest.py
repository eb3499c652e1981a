import shutil
from pathlib import Path

import pytest

from helpers import SMALL_DATA_WORDS, Project, commit_all, copy_project, default_words


@pytest.fixture(scope="session")
def reproduced_template(tmp_path_factory) -> Path:
    """The project on a small slice of the default data, fully reproduced once and committed."""
    project = copy_project(tmp_path_factory.mktemp("template"), default_words()[:SMALL_DATA_WORDS])
    project.repro()
    commit_all(project, "reproduced")
    return project.path


@pytest.fixture
def project(reproduced_template, tmp_path) -> Project:
    """A private copy of the reproduced template (work tree, git history and DVC cache)."""
    dest = tmp_path / "project"
    shutil.copytree(reproduced_template, dest, symlinks=True)
    return Project(dest)
