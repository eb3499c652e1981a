"""The trained models from Python (the README's block, run as it is) and from the page of `makemore serve`, driven
in a real headless Chromium, both against what the `makemore` command prints and an independent count."""

import contextlib
import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import BIN, ROOT, call
from test_plots_page import CHROMIUM
from test_plots_page import pytestmark as needs_chromium  # the same browser, skipped the same way

from makemore import MakemoreError, cli
from makemore.api import Project


def makemore(folder: Path, *args: str) -> str:
    result = call(lambda: cli.main(list(args)), folder)
    assert result.returncode == 0, result.stderr
    return result.stdout


def kneser_ney_sampled(folder: Path, *options: str) -> list[str]:
    """`makemore sample` of the README's and the page test's settings: kneser_ney, 5 words, seed 7, temperature 0.5."""
    settings = ("--model", "kneser_ney", "--num", "5", "--seed", "7", "--temperature", "0.5")
    return makemore(folder, "sample", *settings, *options).split()


def printed_p(output: str) -> dict[str, dict[str, list[float]]]:
    """`makemore score`'s tables: word -> model -> p of each token, as printed (4 decimals)."""
    scored = {}
    for table in output.strip().split("\n\n"):
        title, header, *rows = table.splitlines()
        columns = header.replace(" log p", "_log_p").replace(" p", "_p").split()
        cells = [dict(zip(columns, row.split())) for row in rows]
        models = [column[:-2] for column in columns if column.endswith("_p") and not column.endswith("log_p")]
        scored[title.split()[0]] = {model: [float(cell[f"{model}_p"]) for cell in cells] for model in models}
    return scored


def counted_p(folder: Path, word: str) -> list[float]:
    """p of each token of `word` under the count model, (c(a, b) + 1) / (c(a) + V), from Python counters."""
    train = (folder / "data/prepared/train.txt").read_text(encoding="utf-8").split("\n")[:-1]
    pairs = Counter(pair for w in train for pair in zip("." + w, w + "."))
    firsts = Counter(a for a, _ in pairs.elements())
    size = (
        len(json.loads((folder / "data/prepared/vocab.json").read_text())["chars"]) + 1
    )  # V: the boundary too
    return [(pairs[a, b] + 1) / (firsts[a] + size) for a, b in zip("." + word, word + ".")]


def test_the_readmes_python_runs_and_gives_what_the_command_prints(reproduced_template, monkeypatch):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"^```python\n(.*?)^```", readme, flags=re.S | re.M)
    monkeypatch.chdir(reproduced_template)
    made: dict = {}
    exec(block, made)

    assert made["words"] == kneser_ney_sampled(reproduced_template, "--top-k", "10")
    printed = printed_p(makemore(reproduced_template, "score", "emma", "ava"))
    scores = made["scores"]
    for word, models in printed.items():
        for model, ps in models.items():
            rows = scores[(scores["word"] == word) & (scores["model"] == model)]
            assert rows["p"].round(4).tolist() == ps
    emma = scores[(scores["word"] == "emma") & (scores["model"] == "count")]
    assert emma["p"].tolist() == pytest.approx(counted_p(reproduced_template, "emma"), abs=1e-6)
    assert emma["token"].tolist() == ["e", "m", "m", "a", "."]

    board = made["board"]
    evaluated = {
        name: json.loads((reproduced_template / f"metrics/evaluate/{name}.json").read_text())["val"]["nll"]
        for name in board["model"]
    }
    assert board["val"].tolist() == sorted(evaluated.values()) == [evaluated[name] for name in board["model"]]
    assert set(board["status"]) == {"ok"}
    assert sorted(made["nll"].index) == sorted(board["model"])
    alone = made["alone"].score(["emma"])
    assert (
        alone["p"].tolist()
        == scores[(scores["word"] == "emma") & (scores["model"] == "kneser_ney")]["p"].tolist()
    )


@pytest.mark.parametrize(
    ("call_on", "message"),
    [
        (
            lambda project: project.load("count").sample(temperature=0),
            "count.sample(): temperature = 0 is invalid",
        ),
        (lambda project: project.load("count").sample(top_k=0), "count.sample(): top_k = 0 is invalid"),
        (
            lambda project: project.load("count").sample(seed=2**64),
            "count.sample(): seed = 18446744073709551616",
        ),
        (lambda project: project.load("count").sample(max_len=0), "count.sample(): max_len = 0 is invalid"),
        (
            lambda project: project.load("count").sample(temprature=0.5),
            "count.sample(): unknown key 'temprature' (did you mean 'temperature'?)",
        ),
        (lambda project: project.score("emma"), "give a list of one or more words to score, not 'emma'"),
        (lambda project: project.score([]), "give a list of one or more words to score, not []"),
        (lambda project: project.score(["a\udcff"]), "cannot score 'a\\udcff': not text"),
        (lambda project: project.load("../count"), "../count: no such model in"),
    ],
)
def test_a_mistake_in_python_is_refused_in_one_line(reproduced_template, call_on, message):
    with pytest.raises(MakemoreError) as refused:
        call_on(Project(reproduced_template))
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)


def test_the_api_takes_any_iterable_of_words_and_refuses_a_file_as_the_projects_folder(reproduced_template):
    project = Project(reproduced_template)
    as_list = project.score(["emma", "ava"], ["count"])
    assert project.score((word for word in ["emma", "ava"]), iter(["count"])).equals(as_list)
    assert project.load("count").score(word for word in ["emma", "ava"]).equals(as_list.drop(columns="model"))
    for path, why in [("params.yaml", "not a folder"), ("no-such-folder", "no such folder")]:
        with pytest.raises(MakemoreError) as refused:
            Project(reproduced_template / path)
        assert str(refused.value).startswith(
            f"{reproduced_template / path}: {why}: give the project's folder"
        )


def test_importing_the_library_changes_nothing_in_its_hosts_process():
    check = (
        "import signal, sys\n"
        "before = sys.excepthook, signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)\n"
        "import makemore, makemore.api, makemore.cli\n"
        "assert (sys.excepthook, signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before\n"
    )
    subprocess.run([sys.executable, "-c", check], check=True)


def test_ctrl_c_while_the_command_imports_torch_is_one_line(tmp_path):
    command = subprocess.Popen([BIN / "makemore", "models"], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    maps, deadline = Path(f"/proc/{command.pid}/maps"), time.monotonic() + 60
    while "libtorch" not in maps.read_text() and time.monotonic() < deadline:  # the import has begun
        time.sleep(0.01)
    command.send_signal(signal.SIGINT)
    assert command.wait(timeout=60) == -signal.SIGINT
    assert command.stderr.read() == "interrupted\n"


@contextlib.contextmanager
def served(folder: Path, *options: str) -> Iterator[str]:
    """`makemore serve` on any free port (of 127.0.0.1 unless `options` say otherwise), run in `folder`: the URL
    it prints; then Ctrl-C."""
    server = subprocess.Popen(
        [BIN / "makemore", "serve", "--port", "0", *options],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = server.stdout.readline()  # printed once the page can be opened
    url = re.search(r"http://\S+:\d+/", line)
    assert url, line + server.stderr.read()
    try:
        yield url[0]
    finally:  # Ctrl-C, even after a failed check: no server is left behind
        server.send_signal(signal.SIGINT)
        stopped = server.wait(timeout=60)
    assert stopped == -signal.SIGINT  # it stopped quietly, and ended as a command stopped by Ctrl-C does
    assert server.stderr.read() == "interrupted\n"  # one line, as any makemore command says it


@needs_chromium
def test_the_page_shows_what_makemore_prints_and_a_bad_request_gets_a_4xx_in_one_line(reproduced_template):
    with served(reproduced_template) as url:
        check_the_page(url, reproduced_template)
        for request_path, status, message in BAD_REQUESTS:
            code, body = get(url + request_path)
            assert code == status, request_path
            if message is not None:
                assert list(body) == ["error"] and message in body["error"] and "\n" not in body["error"]
            assert get(url + "api/sample?model=count&num=2")[0] == 200  # it keeps serving


def test_a_blank_host_serves_this_machine_only(reproduced_template):
    with served(reproduced_template, "--host", "") as url:  # `--host "$HOST"` in a script with HOST unset
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url)
        assert get(url + "api/sample?model=count&num=1")[0] == 200


def test_a_request_for_another_host_gets_a_4xx_in_one_line(reproduced_template):
    """A page of another site whose name now points at 127.0.0.1 (DNS rebinding) sends its own name as the Host:
    it is refused, as is the right name on another port; the loopback names with the served port are answered."""
    with served(reproduced_template) as url:
        port = urllib.parse.urlsplit(url).port
        for host in [f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", f"LocalHost:{port}"]:
            assert get(url + "api/sample?model=count&num=1", host)[0] == 200, host
        for host in [
            f"rebound.example:{port}",
            f"127.0.0.1:{port}.rebound.example",
            f"localhost:{port + 1}",
            "localhost",
            "",
            "a" * 5000,
        ]:
            code, body = get(url + "api/leaderboard", host)
            assert code == 400 and list(body) == ["error"] and "\n" not in body["error"], host
            assert body["error"].startswith(f"Host {host[:20]!r}"[:-1]) and len(body["error"]) < 300, host
        assert get(url, f"rebound.example:{port}")[1] == {
            "error": f"Host 'rebound.example:{port}': not an address of this page "
            f"(it answers to 127.0.0.1:{port}, [::1]:{port}, localhost:{port})"
        }


def test_a_wildcard_host_answers_any_host_header(reproduced_template):
    with served(reproduced_template, "--host", "0.0.0.0") as url:  # every interface: open to the network
        port = urllib.parse.urlsplit(url).port
        for host in [f"127.0.0.1:{port}", f"my-laptop.local:{port}", "192.0.2.7:8080"]:
            assert get(f"http://127.0.0.1:{port}/api/sample?model=count&num=1", host)[0] == 200, host


def test_no_answer_holds_an_absolute_path(reproduced_template):
    with served(reproduced_template / "data") as url:  # started in a folder below the project's
        answers = [
            get(url + request_path)[1]
            for request_path in [
                "api/leaderboard",
                "api/score?words=Andrej",
                "api/sample?model=gpt",
                "nowhere",
            ]
        ]
    assert answers[0]["project"] == reproduced_template.name  # what the page shows: the project's folder
    assert str(reproduced_template.parent) not in json.dumps(answers)


def check_the_page(url: str, reproduced_template: Path) -> None:
    """In Chromium: the heatmap of typed words is `makemore score`'s, its rows the leaderboard's order, sampling
    is `makemore sample`'s, an unknown character shows its one line, and nothing is asked of another host."""
    from playwright.sync_api import sync_playwright

    elsewhere, errors = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.route(
            "**/*",
            lambda route: (
                route.continue_()
                if route.request.url.startswith(url)
                else (elsewhere.append(route.request.url), route.abort())
            ),
        )
        page.goto(url)
        page.wait_for_selector("table.heatmap[data-word=emma]")  # the first view: emma, the leaderboard
        page.fill("#words", "ava zoe")
        page.press("#words", "Enter")
        page.wait_for_selector("table.heatmap[data-word=zoe]")
        cells = page.eval_on_selector_all(
            "table.heatmap td.p",
            "cells => cells.map(c => [c.closest('table').dataset.word, c.dataset.model, c.dataset.token, c.title])",
        )
        ladder = page.eval_on_selector_all(
            "table.heatmap[data-word=ava] th.model", "ths => ths.map(t => t.textContent)"
        )
        board = page.eval_on_selector_all("#board td.model", "tds => tds.map(t => t.textContent)")

        page.select_option("#model", "kneser_ney")
        for field, value in {"#num": "5", "#seed": "7", "#temperature": "0.5"}.items():
            page.fill(field, value)
        page.click("#sample-form button")
        page.wait_for_selector("#samples li")
        samples = page.eval_on_selector_all("#samples li", "items => items.map(i => i.textContent)")

        page.select_option("#find-model", "kneser_ney")
        page.fill("#prefix", "ma")
        page.check("#novel")
        page.fill("#find-num", "5")
        page.click("#find-form button")
        page.wait_for_selector("#found li")
        found = page.eval_on_selector_all("#found li", "items => items.map(i => i.dataset.word)")
        page.click("#found li")  # its heatmap
        page.wait_for_selector(f"table.heatmap[data-word={found[0]}]")

        page.fill("#words", "Andrej")
        page.press("#words", "Enter")
        page.wait_for_function("document.getElementById('score-error').textContent !== ''")
        refused = page.text_content("#score-error")
        browser.close()

    printed = printed_p(makemore(reproduced_template, "score", "ava", "zoe"))
    shown = {}
    for word, model, _, title in cells:
        shown.setdefault(word, {}).setdefault(model, []).append(float(title.rpartition("= ")[2]))
    assert shown == printed
    assert [token for word, model, token, _ in cells if (word, model) == ("zoe", "count")] == [
        "z",
        "o",
        "e",
        ".",
    ]
    listed = [line.split()[0] for line in makemore(reproduced_template, "models").splitlines()[1:]]
    assert ladder[1:] == board == listed  # the ladder's rows: best val first, as the leaderboard
    assert samples == kneser_ney_sampled(reproduced_template)
    top = makemore(
        reproduced_template, "top", "--model", "kneser_ney", "--num", "5", "--prefix", "ma", "--novel"
    )
    assert found == [line.split()[1] for line in top.splitlines()[2:]]
    assert (
        refused == "cannot score 'Andrej': character 'A' is not in the vocabulary (data/prepared/vocab.json)"
    )
    assert not elsewhere and not errors


def get(url: str, host: str | None = None) -> tuple[int, dict]:
    """The status and JSON of a GET, with `host` as its Host header if given (as a page of another site whose
    name now points at this machine sends it)."""
    request = urllib.request.Request(url, headers={} if host is None else {"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# (path, status, a part of the message): huge, too many, too long, odd characters, path-like, unknown, out of range
BAD_REQUESTS = [
    ("api/score?words=" + "a" * 10_000, 422, "words: String should have at most 520 characters"),
    ("api/score?words=" + "+".join(["ava"] * 9), 200, None),  # repeats count once
    ("api/score?words=" + "+".join(f"a{'b' * n}" for n in range(9)), 400, "give 1 to 8 words"),
    ("api/score?words=" + "a" * 65, 400, "at most 64 characters a word"),
    ("api/score?words=%C3%A9t%C3%A9", 400, "character 'é' is not in the vocabulary"),
    ("api/score?words=a%01b", 400, "control character"),
    ("api/score?words=a%1Cb", 400, "control character U+001C"),  # a separator to str.split, not to the page
    ("api/sample?model=..%2F..%2Fetc%2Fpasswd", 404, "no such model: '../../etc/passwd'"),
    ("api/sample?model=gpt", 404, "no such model: 'gpt'"),
    ("api/sample?model=count&temperature=nan", 422, "temperature: "),
    ("api/sample?model=count&num=1000000", 422, "num: Input should be less than or equal to 200"),
    ("api/sample?model=count&seed=-1", 422, "seed: Input should be greater than or equal to 0"),
    ("../../etc/passwd", 404, "/etc/passwd: Not Found"),
    ("api/find?model=kneser_ney&prefix=zzzzzz&length=1:3", 422, "no word of at most 3 has it"),
    (
        "api/find?model=kneser_ney&exclude=%2Fetc%2Fpasswd",
        422,
        "exclude: Input should be None",
    ),  # no server file
    ("api/find?model=count&num=201", 422, "num: Input should be less than or equal to 200"),
    ("api/find?model=count&novel=maybe", 422, "novel: Input should be a valid boolean"),
    ("api/find?model=count&way=all", 422, "way: Input should be 'top' or 'sample'"),
    ("api/find?model=count&prefix=%C3%A9", 400, "'é' is not a character of the vocabulary"),
    ("api/find?model=count&way=sample&suffix=q&num=3", 200, None),
]
