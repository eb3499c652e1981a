"""dvc.yaml and the docs say what the code does: each stage's code deps are its imports, the DAG is DVC's."""

import ast
import re
import subprocess
from pathlib import Path

import yaml
from helpers import ROOT


def executed_nodes(tree: ast.AST):
    """Every node of `tree` but those under `if TYPE_CHECKING:`, which type checkers read and Python skips."""
    for child in ast.iter_child_nodes(tree):
        if (
            isinstance(child, ast.If)
            and isinstance(child.test, ast.Name)
            and child.test.id == "TYPE_CHECKING"
        ):
            continue
        yield child
        yield from executed_nodes(child)


def makemore_imports(path: Path) -> set[str]:
    """The makemore modules that the file at `path` imports, directly or through each other, as paths."""
    found, todo = set(), [path]
    while todo:
        tree = ast.parse(todo.pop().read_text(encoding="utf-8"))
        for node in executed_nodes(tree):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                if name == "makemore" or name.startswith("makemore."):
                    # `from makemore import x`: x may be a module
                    for module in (name, name.rsplit(".", 1)[0]):
                        file = ROOT / (module.replace(".", "/") + ".py")
                        package = ROOT / module.replace(".", "/") / "__init__.py"
                        for candidate in (file, package):
                            if candidate.is_file() and str(candidate.relative_to(ROOT)) not in found:
                                found.add(str(candidate.relative_to(ROOT)))
                                todo.append(candidate)
    return found


def test_every_stage_depends_on_exactly_the_code_it_imports():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert stages
    for name, stage in stages.items():
        stage = stage.get("do", stage)  # a foreach stage's template
        script = "stages/{}.py".format(re.search(r"python -m stages\.(\w+)", stage["cmd"])[1])
        code_deps = set()
        for dep in stage["deps"]:
            if dep.endswith(".py"):
                code_deps.add(dep)
            elif (ROOT / dep).is_dir() and dep.startswith("makemore"):  # a folder of modules: all of them
                code_deps |= {str(path.relative_to(ROOT)) for path in (ROOT / dep).rglob("*.py")}
        assert code_deps == {script} | makemore_imports(ROOT / script), name


def test_the_dag_in_the_docs_is_what_dvc_draws():
    drawn = subprocess.run(
        ["dvc", "dag", "--mermaid"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    pipeline = (ROOT / "docs" / "pipeline.md").read_text(encoding="utf-8")
    shown = re.search(r"```mermaid\n(.*?)```", pipeline, flags=re.S)[1]
    assert shown.strip() == drawn.strip(), "run `make docs`: docs/pipeline.md shows another DAG"
