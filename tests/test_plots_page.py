"""The page of `dvc plots show`, opened in a real headless Chromium that may not reach the network."""

import json
import os
import shutil

import pytest
import yaml
from helpers import curve_files
from playwright.sync_api import sync_playwright

from makemore.tune import DEFAULT_SWEEPS

CHROMIUM = shutil.which("chromium")

# CI installs Chromium (.ci/run); elsewhere the test says what is missing rather than fail for it.
pytestmark = pytest.mark.skipif(
    not CHROMIUM and not os.environ.get("CI"), reason="needs Debian's chromium: apt-get install chromium"
)

# For each plot div: is it drawn? An image loaded, or an SVG (the page asks vega for SVG) whose every
# panel (each view of a concatenation, or the one view) holds a drawn data mark. A panel whose data were all
# filtered out, or never loaded, has none; axes, titles and legends are not data marks.
DRAWN = """div => {
    const img = div.querySelector('img');
    if (img) return img.complete && img.naturalWidth > 0;
    const svg = div.querySelector('svg');
    if (!svg) return false;
    const views = Array.from(svg.querySelectorAll('g.role-scope')).filter(g => /concat_\\d+_group/.test(g.getAttribute('class')));
    return (views.length ? views : [svg]).every(panel =>
        Array.from(panel.querySelectorAll('g.role-mark path')).some(path => (path.getAttribute('d') || '').length > 10));
}"""


def test_every_declared_plot_renders_offline_in_a_real_browser(project):
    project.dvc("plots", "show")
    page_file = project.path / "dvc_plots/index.html"
    assert page_file.stat().st_size < 3_000_000  # the page stays light: the libraries are 0.9 MB of it
    declared = set(json.loads(project.dvc("plots", "show", "--json").stdout)["data"])

    requests, errors = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("request", lambda request: requests.append(request.url))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.route(
            "**/*",
            lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort(),
        )
        page.goto(page_file.as_uri())
        page.wait_for_load_state("load")
        divs = {path: page.locator(f"#{path.replace('/', '_').replace('.', '_')}") for path in declared}
        page.wait_for_function(
            f"() => Array.from(document.querySelectorAll('div[id]')).every({DRAWN})", timeout=20_000
        )
        drawn = {path: div.evaluate(DRAWN) for path, div in divs.items()}
        browser.close()

    params = yaml.safe_load((project.path / "params.yaml").read_text())
    models = [*params["models"], *params["mixtures"]]
    curves = sum(len(curve_files(project.path, name)) for name in models)
    sweeps = len(list((project.path / "tuning/sweeps").glob("*.csv")))
    assert sweeps >= len(DEFAULT_SWEEPS)
    # grids, each model's curves and lengths, sweeps
    assert len(declared) == 3 + curves + len(models) + sweeps
    assert drawn == {path: True for path in declared}
    assert errors == []
    assert [url for url in requests if not url.startswith("file:")] == []  # no CDN, no network at all
