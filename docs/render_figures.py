"""Render the pipeline's vega-lite plots to PNG for the docs, offline: docs/figures/NAME.png; and a screenshot of
the page of `makemore serve`: docs/figures/explore.png.

    python docs/render_figures.py      (run by `make figures`, after `make repro` and `make tune`)

`dvc plots show --json` gives each plot's finished vega-lite spec, data included; vl-convert draws it
without a browser. The grids are PNGs already and are shown from metrics/ as they are. The screenshot is
taken in headless Chromium, and holds the digest of what it shows (the page and the models' metrics and
params): tests/test_docs.py finds a stale one by it.
"""

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import vl_convert
from PIL import Image, PngImagePlugin

from makemore.params import read_params

ROOT = Path(__file__).resolve().parents[1]
OUT = Path("docs/figures")
SCREENSHOT = "explore.png"
DIGEST_KEY = "makemore-inputs"


def page_digest(root: Path) -> str:
    """sha256 of what the screenshot shows: the page and its server, and each model's params and metrics."""
    digest = hashlib.sha256((root / "makemore/explore.html").read_bytes())
    digest.update((root / "makemore/serve.py").read_bytes())
    models = read_params(root / "params.yaml")["models"]
    digest.update(json.dumps(models, sort_keys=True).encode())
    for name in models:
        digest.update((root / f"metrics/evaluate/{name}.json").read_bytes())
    return digest.hexdigest()


def screenshot() -> None:
    """The page as it opens on the trained models, then sampling the best model at a low temperature."""
    from playwright.sync_api import sync_playwright  # the test extra's: only this figure needs it

    server = subprocess.Popen(
        [Path(sys.executable).parent / "makemore", "serve", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        url = re.search(r"http://\S+/", server.stdout.readline())[0]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"), args=["--no-sandbox"]
            )
            page = browser.new_page(viewport={"width": 1100, "height": 1000})
            page.goto(url)
            page.wait_for_selector("#board td.model")
            page.fill("#num", "12")
            page.fill("#temperature", "0.8")
            page.click("#sample-form button")
            page.wait_for_selector("#samples li")
            page.select_option("#find-model", "kneser_ney")
            page.fill("#prefix", "ma")
            page.fill("#suffix", "a")
            page.fill("#length", "5:7")
            page.check("#novel")
            page.fill("#find-num", "12")
            page.click("#find-form button")
            page.wait_for_selector("#found li")
            page.screenshot(path=OUT / SCREENSHOT, full_page=True)
            browser.close()
    finally:
        server.terminate()
        server.wait()
    marked = PngImagePlugin.PngInfo()
    marked.add_text(DIGEST_KEY, page_digest(ROOT))
    Image.open(OUT / SCREENSHOT).save(OUT / SCREENSHOT, pnginfo=marked, optimize=True)
    print(OUT / SCREENSHOT)


def main() -> None:
    shown = json.loads(
        subprocess.run(["dvc", "plots", "show", "--json"], check=True, capture_output=True, text=True).stdout
    )
    OUT.mkdir(parents=True, exist_ok=True)
    for path, renders in shown["data"].items():
        for render in renders:
            if render["type"] == "vega":
                # metrics/train/nn/plots/metrics/val/nll.tsv -> train-nn-val, metrics/sample/nn_lengths.csv -> sample-nn_lengths
                name = "-".join(
                    part
                    for part in Path(path).with_suffix("").parts[1:]
                    if part not in ("plots", "metrics", "nll")
                )
                (OUT / f"{name}.png").write_bytes(vl_convert.vegalite_to_png(render["content"], scale=1.5))
                print(OUT / f"{name}.png")
    screenshot()


if __name__ == "__main__":
    main()
