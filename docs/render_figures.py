"""Render the pipeline's vega-lite plots to PNG for the docs, offline: docs/figures/NAME.png.

    python docs/render_figures.py      (run by `make figures`, after `make repro` and `make tune`)

`dvc plots show --json` gives each plot's finished vega-lite spec, data included; vl-convert draws it
without a browser. The grids are PNGs already and are shown from metrics/ as they are.
"""

import json
import subprocess
from pathlib import Path

import vl_convert

OUT = Path("docs/figures")


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


if __name__ == "__main__":
    main()
