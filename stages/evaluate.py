"""Evaluate one model: mean NLL per predicted token, perplexity and token counts on every split.

python -m stages.evaluate NAME      (NAME: a model under `models:` in params.yaml)
"""

from pathlib import Path

from makemore.artifacts import instance_argument, run_stage, write_json
from makemore.contexts import SplitFile
from makemore.evaluate import score
from makemore.models import load_instance
from makemore.vocab import SPLITS, load_vocab


def main() -> None:
    name = instance_argument()
    vocab = load_vocab()
    model = load_instance(name, vocab)
    metrics = {split: score(model, SplitFile(vocab, Path(f"data/prepared/{split}.txt"))) for split in SPLITS}
    write_json(f"metrics/evaluate/{name}.json", metrics)


if __name__ == "__main__":
    run_stage(main)
