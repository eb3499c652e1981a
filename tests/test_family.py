"""A new family is three edits: its module, its registry line, its instance in params.yaml. Here a toy family
(the unigram model, which ignores the context) is added so to a copy of the project, and goes through the
pipeline, the interface tests, the plots and the CLI there, with no other file touched."""

import json
import subprocess
import sys

import pytest
from helpers import BIN

UNIGRAM = '''"""The unigram model: each character's share of the train tokens (plus k), whatever came before it."""

from typing import Literal

import torch
from pydantic import Field

from makemore.models.contexts import Positions
from makemore.models.interface import FamilyConfig, FitData, Model, Training
from makemore.vocab import Vocabulary


class UnigramConfig(FamilyConfig):
    family: Literal["unigram"]
    k: float = Field(1.0, ge=0)  # added to every count


class Unigram(Model):
    Config = UnigramConfig

    def __init__(self, config: UnigramConfig, vocab: Vocabulary, log_p: torch.Tensor):
        super().__init__(config, vocab)
        self.log_p = log_p  # (V,)

    @property
    def context_length(self) -> int:
        return 0

    def log_probs(self, contexts: torch.Tensor) -> torch.Tensor:
        return self.log_p.expand(len(contexts), -1)  # (B, V)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"log_p": self.log_p}

    @classmethod
    def from_tensors(cls, config: UnigramConfig, vocab: Vocabulary, tensors: dict[str, torch.Tensor]) -> "Unigram":
        if tensors["log_p"].shape != (vocab.size,):
            raise ValueError("log_p is not a (V,) vector")
        return cls(config, vocab, tensors["log_p"])

    @classmethod
    def fit(cls, config: UnigramConfig, data: FitData) -> Training:
        train, val = data.train.whole(), data.val.whole()  # the splits' positions, held in memory
        counts = torch.bincount(train.targets.long(), minlength=data.vocab.size).double() + config.k
        log_p = (counts / counts.sum()).log().float()

        def nll(positions: Positions) -> float:
            return -log_p[positions.targets.long()].double().mean().item()

        return Training(cls(config, data.vocab, log_p), [{"step": 0, "train": nll(train), "val": nll(val)}])
'''


@pytest.mark.long
def test_a_family_added_in_three_files_runs_through_the_pipeline_the_interface_tests_and_the_cli(project):
    (project.path / "makemore/models/unigram.py").write_text(UNIGRAM)
    registry = project.path / "makemore/models/__init__.py"
    text = registry.read_text()
    text = text.replace(
        "from makemore.models.transformer import",
        "from makemore.models.unigram import Unigram\nfrom makemore.models.transformer import",
    )
    registry.write_text(
        text.replace(
            "FAMILIES: dict[str, type[Model]] = {",
            'FAMILIES: dict[str, type[Model]] = {\n    "unigram": Unigram,',
        )
    )
    project.set_params(models__unigram={"family": "unigram", "k": 0.5})
    edited = project.git("status", "--porcelain").split("\n")
    assert sorted(line[3:] for line in edited if line) == [
        "makemore/models/__init__.py",
        "makemore/models/unigram.py",
        "params.yaml",
    ]

    # as its author would
    run = ([BIN / "ruff", "format", "."], [BIN / "ruff", "check", "--fix", "--quiet", "."])
    assert all(subprocess.run(command, cwd=project.path).returncode == 0 for command in run)
    # its branch: the other stages are stale too (they depend on the folder makemore/models) but unchanged
    branch = [f"{stage}@unigram" for stage in ("train", "evaluate", "sample")]
    assert sorted(project.repro(*branch)) == sorted(branch)
    evaluated = json.loads((project.path / "metrics/evaluate/unigram.json").read_text())
    assert 2.5 < evaluated["val"]["nll"] < 3.3  # between the bigram's and the uniform guess's log 27
    assert (project.path / "data/samples/unigram.txt").read_text().count("\n") > 0
    shown = json.loads(project.dvc("plots", "show", "--json").stdout)["data"]
    assert {"metrics/train/unigram/plots/metrics/val/nll.tsv", "metrics/sample/unigram_lengths.csv"} <= set(
        shown
    )
    listed = subprocess.run([BIN / "makemore", "models"], cwd=project.path, capture_output=True, text=True)
    assert "unigram" in listed.stdout, listed.stderr

    # fmt: skip
    tests = subprocess.run(  # the copy's own tests, on the copy's makemore (python -m puts its folder first)
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_models.py",
            "tests/test_code.py",
            "-k",
            "interface and unigram or layers or formatter",
        ],
        cwd=project.path,
        capture_output=True,
        text=True,
    )
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert "3 passed" in tests.stdout
