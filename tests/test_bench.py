"""Every benchmark runs to its end at its tiny size (MAKEMORE_BENCH_TINY=1), a real process as `make bench` starts
it: a broken import or a renamed function fails here. What the benchmarks measure is not checked."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT
from test_plots_page import pytestmark as needs_chromium  # the same browser, skipped the same way

# The start of the last row of each script's table.
LAST_ROWS = {
    "bench.py": "| of which the rest of DVC (its start, reading the files, hashing, locks) |",
    "throughput.py": "| transformer |",
    "race.py": "| pipeline: batch ",
    "scale.py": "| **end to end** |",
}


def run_tiny(script: str, *args: str | Path) -> list[str]:
    """The lines that `python benchmarks/SCRIPT ARGS` prints at its tiny size, run from the checkout."""
    result = subprocess.run(
        [sys.executable, ROOT / "benchmarks" / script, *args],
        cwd=ROOT,
        env=os.environ | {"MAKEMORE_BENCH_TINY": "1"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"{script} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout.splitlines()


def assert_table(lines: list[str], last_row: str) -> None:
    """A table (its rule under the header) whose last row starts with `last_row`."""
    rules = [i for i, line in enumerate(lines) if line.startswith("| --- |")]
    assert rules, "\n".join(lines)
    rows = [line for line in lines[rules[0] + 1 :] if line.startswith("|")]
    assert rows and rows[-1].startswith(last_row), "\n".join(lines)


@pytest.mark.parametrize("script", LAST_ROWS)
def test_a_benchmark_runs_to_its_end(script):
    assert_table(run_tiny(script), LAST_ROWS[script])


@needs_chromium
def test_the_benchmark_of_the_page_runs_to_its_end_on_the_shared_project(reproduced_template):
    assert_table(
        run_tiny("serve.py", reproduced_template), "| a 50-character word scored by the whole ladder"
    )
