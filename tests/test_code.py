"""The code's own rules, by the tools that keep them: its layers point down (import-linter, the contract in
pyproject.toml), its layout is the formatter's and the linter passes (ruff); and its functions are short, which no
linter counts in lines (Python's own parser does)."""

import ast
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


def test_no_function_of_makemore_is_over_40_lines():
    long = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name}, {node.end_lineno - node.lineno + 1} lines"
        for path in sorted((ROOT / "makemore").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > 40
    ]
    assert not long, "\n".join(long)
