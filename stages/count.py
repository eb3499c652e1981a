"""Count model: the train bigram counts, smoothed and row-normalised into probabilities."""

from makemore.artifacts import load_tensors, run_stage, save_tensors
from makemore.bigram import count_model
from makemore.params import load_params


def main() -> None:
    params = load_params()
    counts = load_tensors("data/bigrams/counts.pt")["counts"]
    save_tensors("data/models/count.pt", {"probs": count_model(counts, params.count.smoothing)})


if __name__ == "__main__":
    run_stage(main)
