"""The code's own rules, by the tools that keep them: its layers point down (import-linter, the contract in
pyproject.toml), its layout is the formatter's and the linter passes (ruff)."""

import subprocess

from helpers import BIN, ROOT


def check(*command: str) -> None:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"


def test_makemores_layers_only_import_the_layers_below_them():
    check(str(BIN / "lint-imports"), "--no-cache")


def test_the_code_is_as_the_formatter_lays_it_out_and_the_linter_passes():
    check(str(BIN / "ruff"), "format", "--check", ".")
    check(str(BIN / "ruff"), "check", ".")
