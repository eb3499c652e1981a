"""Count model: the train bigram counts, smoothed and row-normalised into probabilities."""

from makemore.artifacts import load_counts, load_vocab, run_stage, save_tensors
from makemore.bigram import count_model
from makemore.params import load_params


def main() -> None:
    params = load_params()
    vocab = load_vocab("data/prepared/vocab.json")
    counts = load_counts("data/bigrams/counts.pt", vocab)
    save_tensors("data/models/count.pt", {"probs": count_model(counts, params.count.smoothing)}, vocab)


if __name__ == "__main__":
    run_stage(main)
