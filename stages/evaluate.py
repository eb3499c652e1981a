"""Evaluate one model: mean NLL per bigram, perplexity and bigram counts on every split.

    python stages/evaluate.py MODEL      (MODEL: count or nn)
"""

import sys

from makemore.artifacts import load_tensors, run_stage, write_json
from makemore.bigram import SPLITS, count_bigrams, score


def main() -> None:
    model = sys.argv[1]
    probs = load_tensors(f"data/models/{model}.pt")["probs"]
    metrics = {}
    for split in SPLITS:
        bigrams = load_tensors(f"data/bigrams/{split}.pt")
        metrics[split] = score(probs, count_bigrams(bigrams["xs"], bigrams["ys"], probs.shape[0]))
    write_json(f"metrics/evaluate/{model}.json", metrics)


if __name__ == "__main__":
    run_stage(main)
