"""dvc.yaml and the docs say what the code does: each stage's code deps are its imports, and every generated block
of README.md and docs/*.md (tables of results, console outputs, the DAG) is what `make docs` would write now."""

import ast
import importlib.util
import math
import re
import shlex
import sys
from pathlib import Path

import yaml
from helpers import LEFT_OUT_OF_SHARED_PROJECT, ROOT, call, run, stage_in_process
from PIL import Image
from tolerance import NLL_TOLERANCE

from makemore import cli
from makemore.models import FAMILIES
from makemore.models.network import NetworkConfig
from makemore.params import load_params


def load_generate():
    spec = importlib.util.spec_from_file_location("generate", ROOT / "docs" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


generate = load_generate()


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
        commands = stage["cmd"] if isinstance(stage["cmd"], list) else [stage["cmd"]]
        scripts = {"stages/{}.py".format(re.search(r"python -m stages\.(\w+)", cmd)[1]) for cmd in commands}
        code_deps = set()
        for dep in stage["deps"]:
            if dep.endswith(".py"):
                code_deps.add(dep)
            elif (ROOT / dep).is_dir() and dep.startswith("makemore"):  # a folder of modules: all of them
                code_deps |= {str(path.relative_to(ROOT)) for path in (ROOT / dep).rglob("*.py")}
        imported = set().union(*(makemore_imports(ROOT / script) for script in scripts))
        assert code_deps == scripts | {"stages/__init__.py"} | imported, name


def in_process(command, cwd: Path) -> tuple[int, str]:
    """Run a docs command as generate.py does, but the CLI and the stages in this process (no 2 s of imports)."""
    argv = list(command.argv)
    if argv[0] == "makemore":
        result = call(lambda: cli.main(argv[1:]), cwd)
    elif argv[:2] == ["python", "-m"] and argv[2].startswith("stages."):
        result = stage_in_process(cwd, argv[2].removeprefix("stages."), *argv[3:])
    else:
        result = run(argv, cwd, check=False)
    return result.returncode, result.stdout + result.stderr


def blocks_of(kind: str) -> list[str]:
    return [name for name, block in generate.BLOCKS.items() if block.kind == kind]


def stale(shown: dict, made: dict) -> list[str]:
    return [
        f"{shown[name][0].relative_to(ROOT)}: {name}"
        for name in made
        if made[name].strip("\n") != shown[name][1]
    ]


def test_the_blocks_made_from_committed_files_are_what_the_files_hold():
    """The leaderboard and every table of metrics/, params.yaml, dvc.yaml and tuning/: exactly, no model needed."""
    shown = generate.shown(ROOT)  # every block shown once, each a known one
    made = {name: generate.BLOCKS[name].make(ROOT, in_process) for name in blocks_of(generate.COMMITTED)}
    assert not stale(shown, made), "stale, run `make docs`: " + ", ".join(stale(shown, made))


def test_the_dag_and_the_refused_params_are_what_the_commands_print():
    shown = generate.shown(ROOT)
    made = {name: generate.BLOCKS[name].make(ROOT, in_process) for name in blocks_of(generate.COMMANDS)}
    assert not stale(shown, made), "stale, run `make docs`: " + ", ".join(stale(shown, made))
    assert "dag" in made  # `dvc dag --mermaid`, in docs/pipeline.md


# --- the blocks of the trained models, checked on the shared reproduced project -----------------------------


def close(shown: str, made: str) -> bool:
    """Two printed values: equal, or numbers within the tolerance of an NLL and the last decimal printed."""
    if shown == made:
        return True
    try:
        a, b = float(shown), float(made)
    except ValueError:
        return False
    decimals = len(shown.partition(".")[2])
    return math.isfinite(a) and abs(a - b) <= NLL_TOLERANCE + 10**-decimals


def same_line(shown: str, made: str) -> bool:
    a, b = shown.split(), made.split()
    return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))


def console_session(block: str) -> list[tuple[list[str], list[str]]]:
    """A console block as (argv, output lines) per command."""
    lines = block.strip("\n").split("\n")
    assert lines[0] == "```console" and lines[-1] == "```", block
    session = []
    for line in lines[1:-1]:
        if line.startswith("$ "):
            session.append((shlex.split(line[2:].partition("   # ")[0]), []))
        else:
            session[-1][1].append(line)
    return session


# the last column of `makemore models`: best, or the difference from the best with its interval
VERSUS_BEST = re.compile(r" +(best|\S+ \[\S+, \S+\]( tie)?)$")


def check_rows(shown: list[str], made: list[str], models: list[str], checked: set[str]) -> None:
    """`makemore models`: a row per model, its name first; the checked models' rows as made, in the same order."""
    assert same_line(shown[0], made[0]), f"{shown[0]}\n{made[0]}"
    shown_rows = {line.split()[0]: line for line in shown[1:]}
    made_rows = {line.split()[0]: line for line in made[1:]}
    assert sorted(shown_rows) == sorted(models), (
        f"the docs show {sorted(shown_rows)}, params.yaml has {models}"
    )
    for name in checked:  # without the difference from the best, which the unchecked models move
        shown_row, made_row = (VERSUS_BEST.sub("", rows[name]) for rows in (shown_rows, made_rows))
        assert same_line(shown_row, made_row), f"{name}:\n{shown_rows[name]}\n{made_rows[name]}"
    order = [name for name in shown_rows if name in checked]
    assert order == [name for name in made_rows if name in checked]


def score_columns(output: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """`makemore score WORD`: the tokens, and each model's mean NLL, p and log p per token."""
    word_line, header, *rows = output[:-1] if output[-1] == "" else output
    nlls = re.fullmatch(r"\S+  \(mean NLL per token: (.*)\)", word_line)[1].split(", ")
    names = [part.split()[0] for part in nlls]
    assert header.split() == ["token"] + [w for name in names for w in (name, "p", name, "log", "p")], header
    columns = {name: [part.split()[1]] for name, part in zip(names, nlls)}
    for row in rows:
        token, *values = row.split()
        assert len(values) == 2 * len(names), row
        for i, name in enumerate(names):
            columns[name] += values[2 * i : 2 * i + 2]
    return [row.split()[0] for row in rows], columns


def check_score(shown: list[str], made: list[str], models: list[str], checked: set[str]) -> None:
    shown_tokens, shown_columns = score_columns(shown)
    made_tokens, made_columns = score_columns(made)
    assert shown_tokens == made_tokens, f"{shown_tokens} != {made_tokens}"
    assert sorted(shown_columns) == sorted(models), (
        f"the docs show {sorted(shown_columns)}, params.yaml has {models}"
    )
    for name in checked:
        pairs = zip(shown_columns[name], made_columns[name])
        assert all(close(a, b) for a, b in pairs), f"{name}: {shown_columns[name]} != {made_columns[name]}"


def check_console(block: str, made: str, models: list[str], checked: set[str]) -> None:
    shown_session, made_session = console_session(block), console_session(made)
    assert [argv for argv, _ in shown_session] == [argv for argv, _ in made_session], "run `make docs`"
    for (argv, shown), (_, output) in zip(shown_session, made_session):
        if argv == ["makemore", "models"]:
            check_rows(shown, output, models, checked)
        elif (
            argv[:2] == ["makemore", "score"] and "--model" not in argv and not shown[0].startswith("error:")
        ):
            check_score(shown, output, models, checked)
        else:  # a refusal, or one model's output: the default model's (count) or --model's, one the tests train
            model = argv[argv.index("--model") + 1] if "--model" in argv else "count"
            assert shown[0].startswith("error:") or model in checked, (
                f"{shlex.join(argv)}: the tests cannot check a console output of {model}"
            )
            assert len(shown) == len(output) and all(map(same_line, shown, output)), (
                f"{shlex.join(argv)}:\n" + "\n".join(shown) + "\n---\n" + "\n".join(output)
            )


def table_columns(block: str) -> dict[str, list[str]]:
    header, _, *rows = (line.strip("|").split("|") for line in block.strip("\n").split("\n"))
    return {name.strip(): [row[i].strip() for row in rows] for i, name in enumerate(header)}


def test_the_blocks_of_the_trained_models_are_what_they_print(project):
    """`makemore models`, `score` and `sample`, and the first samples: run again in the shared reproduced project,
    whose models are all but the nets (their full training takes minutes) and LEFT_OUT_OF_SHARED_PROJECT. Each line or column of those
    models is what the docs show (numbers within tolerance), and every model of params.yaml is in the docs."""
    params = load_params(ROOT / "params.yaml").instances
    models = list(params)
    nets = {
        name for name, model in params.items() if issubclass(FAMILIES[model["family"]].Config, NetworkConfig)
    }
    # the mixtures mix other models there
    mixtures = set(load_params(ROOT / "params.yaml").mixtures)
    checked = set(models) - nets - LEFT_OUT_OF_SHARED_PROJECT - mixtures
    reproduced = set(yaml.safe_load((project.path / "params.yaml").read_text())["models"])
    # the shared project trains every model but the nets and LEFT_OUT_OF_SHARED_PROJECT
    assert checked and checked <= reproduced
    shown = generate.shown(ROOT)
    for name in blocks_of(generate.TRAINED):
        made = generate.BLOCKS[name].make(project.path, in_process)
        block = shown[name][1]
        if block.startswith("```console"):
            check_console(block, made, models, checked)
        else:  # a table with a column per model
            shown_columns, made_columns = table_columns(block), table_columns(made)
            assert list(shown_columns) == models, (
                f"{name}: the docs show {list(shown_columns)}, params.yaml has {models}"
            )
            for model in checked:
                assert shown_columns[model] == made_columns[model], f"{name}: {model}"


# --- what the docs are made of ------------------------------------------------------------------------------


def prose(text: str) -> str:
    """A Markdown file without its generated blocks, code blocks and code spans."""
    text = generate.MARKER.sub("", text)
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`]*`", "", text)


def test_the_readme_is_short_and_its_results_are_generated():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.split("\n")) <= 300
    # a result is written with decimals, a percent sign or thousands: only generated blocks may hold one
    typed = re.findall(r"\d+\.\d+|\d+(?:,\d{3})+|\d+(?:\.\d+)?\s?%", prose(readme).replace("Python 3.11", ""))
    assert not typed, f"numbers typed into the README's prose: {typed} (put them in a generated block)"


def test_every_documented_override_of_a_models_param_is_one_dvc_takes():
    """`-S models.NAME.KEY=...` sets a key the instance lists in params.yaml; `-S +models.NAME.KEY=...` adds one it
    does not (DVC refuses `+` for a key that is there, and a plain override of one that is not); so for mixtures."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    wrong = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for plus, section, name, key in re.findall(r"-S (\+?)(models|mixtures)\.(\w+)\.(\w+)=", text):
            instances = params[section]
            if name not in instances or bool(plus) == (key in instances[name]):
                wrong.append(f"{path.relative_to(ROOT)}: -S {plus}{section}.{name}.{key}")
    assert wrong == []


def headings(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file."""
    found = set()
    for line in re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M).split("\n"):
        if match := re.match(r"#+ (.*)", line):
            found.add(re.sub(r"[^\w\- ]", "", match[1].lower()).replace(" ", "-"))
    return found


def test_every_link_and_image_of_the_docs_resolves_and_every_figure_is_shown():
    shown_images = set()
    for path in generate.documents(ROOT):
        for target in re.findall(r"\]\(([^)\s]+)\)", prose(path.read_text(encoding="utf-8"))):
            if re.match(r"https?:", target):
                continue
            file, _, anchor = target.partition("#")
            linked = (path.parent / file).resolve() if file else path
            assert linked.exists(), f"{path.relative_to(ROOT)}: {target}: no such file"
            if anchor:
                assert anchor in headings(linked), f"{path.relative_to(ROOT)}: {target}: no such heading"
            if linked.suffix == ".png":
                shown_images.add(linked)
    figures = set((ROOT / "docs" / "figures").glob("*.png")) | set((ROOT / "metrics").glob("*.png"))
    assert figures <= shown_images, (
        f"figures no doc shows: {sorted(str(f.relative_to(ROOT)) for f in figures - shown_images)}"
    )


def test_the_screenshot_of_the_page_shows_the_page_and_the_models_as_committed():
    spec = importlib.util.spec_from_file_location("render_figures", ROOT / "docs" / "render_figures.py")
    render_figures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render_figures)
    shown = Image.open(ROOT / "docs/figures" / render_figures.SCREENSHOT).text[render_figures.DIGEST_KEY]
    assert shown == render_figures.page_digest(ROOT), "stale: run `make figures` (docs/figures/explore.png)"


def test_every_committed_sweep_and_choice_is_of_todays_split_data_and_code():
    """The sweep's row for the value params.yaml holds is the model the pipeline trained: the same train and val NLL
    as metrics/evaluate/NAME.json. A change of the split, the data or the code that moves them fails here until
    `make tune` reruns the sweeps."""
    committed = generate.models(ROOT)
    for path in generate.sweep_csvs(ROOT):
        name, key, rows = generate.swept(ROOT, path)
        evaluated = generate.metrics(ROOT, "evaluate", name)
        (row,) = [row for row in rows if generate.same(row["value"], committed[name][key])]
        for split in ("train", "val"):
            assert abs(generate.nll(row[split]) - generate.nll(evaluated[split]["nll"])) <= NLL_TOLERANCE, (
                f"{path.relative_to(ROOT)}: {key} {row['value']}: {split} {row[split]}, but metrics/evaluate/"
                f"{name}.json has {evaluated[split]['nll']}: run `make tune`"
            )
    for param, choice in generate.read_json(ROOT / "tuning/best.json").items():
        _, name, key = param.split(".")
        if generate.same(choice["value"], committed[name][key]):
            evaluated = generate.metrics(ROOT, "evaluate", name)
            for split in ("val", "test"):
                assert abs(choice[f"{split}_nll"] - generate.nll(evaluated[split]["nll"])) <= NLL_TOLERANCE, (
                    f"tuning/best.json: {param}: {split} {choice[f'{split}_nll']}, but metrics/evaluate/{name}.json "
                    f"has {evaluated[split]['nll']}: run `make tune`"
                )
