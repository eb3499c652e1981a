"""Evaluate one model: mean NLL per bigram, perplexity and bigram counts on every split.

    python stages/evaluate.py MODEL      (MODEL: count or nn)
"""

from makemore.artifacts import load_bigrams, load_probs, load_vocab, model_argument, run_stage, write_json
from makemore.bigram import SPLITS, count_bigrams, score


def main() -> None:
    model = model_argument()
    vocab = load_vocab("data/prepared/vocab.json")
    probs = load_probs(f"data/models/{model}.pt", vocab)
    metrics = {}
    for split in SPLITS:
        xs, ys = load_bigrams(f"data/bigrams/{split}.pt", vocab)
        metrics[split] = score(probs, count_bigrams(xs, ys, vocab.size))
    write_json(f"metrics/evaluate/{model}.json", metrics)


if __name__ == "__main__":
    run_stage(main)
