"""The page of `makemore serve` on the committed models: how soon it shows, and how fast the ladder scores a word.

    python benchmarks/serve.py [PROJECT]    (part of `make bench`, after `make repro` or `dvc pull`; prints, asserts nothing)

Targets: the first view (the page, its leaderboard and the heatmap of its first word, drawn in headless
Chromium) under 2 s after the server says it is up; a word of 50 characters scored by every model under 0.5 s
a request. The baseline of the second is the same scoring in-process through makemore.api, without HTTP.
PROJECT is the reproduced project to serve (this checkout by default). With MAKEMORE_BENCH_TINY=1 (the tests'
size) each way scores the word TINY_REPEATS times.
"""

import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

from makemore.api import Project

ROOT = Path(__file__).resolve().parents[1]
WORD = "abcdefghijklmnopqrstuvwxyz" + "abcdefghijklmnopqrstuvwx"  # 50 characters, every letter
# The tests' size: seconds, not minutes (tests/test_bench.py).
TINY = os.environ.get("MAKEMORE_BENCH_TINY") == "1"
TINY_REPEATS = 2
REPEATS = TINY_REPEATS if TINY else 20


def main() -> None:
    project_path = Path(sys.argv[1]) if sys.argv[1:] else ROOT
    started = time.perf_counter()
    server = subprocess.Popen(
        [Path(sys.executable).parent / "makemore", "serve", "--port", "0"],
        cwd=project_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = re.search(r"http://\S+/", server.stdout.readline())[0]
        up = time.perf_counter()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"), args=["--no-sandbox"]
            )
            page = browser.new_page()
            shown = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("table.heatmap td.p")
            page.wait_for_selector("#board td.model")
            first_view = time.perf_counter() - shown
            browser.close()
        requests = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            urllib.request.urlopen(f"{url}api/score?words={WORD}").read()
            requests.append(time.perf_counter() - start)
    finally:
        server.terminate()
        server.wait()
    project = Project(project_path)
    project.score([WORD])  # each model loaded once, as the server did before it said it was up
    in_process = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        project.score([WORD])
        in_process.append(time.perf_counter() - start)
    request, baseline = statistics.median(requests), statistics.median(in_process)
    print("| measure | time | target |\n| --- | --- | --- |")
    print(
        f"| server start (process to URL: imports, {len(project.names)} models loaded) | {up - started:.2f} s | – |"
    )
    print(
        f"| first view in Chromium after the server is up | {first_view:.2f} s | < 2 s ({first_view / 2:.2f}x) |"
    )
    print(
        f"| a {len(WORD)}-character word scored by the whole ladder, median of {REPEATS} requests | {request * 1000:.0f} ms "
        f"| < 500 ms ({request / 0.5:.2f}x); in-process through makemore.api: {baseline * 1000:.0f} ms "
        f"(HTTP is {request / baseline:.2f}x) |"
    )


if __name__ == "__main__":
    main()
