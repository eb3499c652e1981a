"""Compare every model with the best on val: its NLL difference and a bootstrap interval of it (makemore/compare.py),
from the val words' log-likelihoods each evaluate stage wrote; each model named with the sha256 of its file.

python -m stages.compare
"""

import json
from pathlib import Path

from makemore.artifacts import run_stage, write_json
from makemore.compare import compare_models, read_word_scores
from makemore.params import load_params


def main() -> None:
    params = load_params()
    scores = {name: read_word_scores(f"data/scores/{name}.tsv") for name in params.instances}
    measured = {
        name: json.loads(Path(f"metrics/evaluate/{name}.json").read_text())["model_sha256"]
        for name in params.instances
    }
    write_json("metrics/compare.json", compare_models(scores, measured, params.compare))


if __name__ == "__main__":
    run_stage(main)
