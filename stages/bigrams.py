"""The lecture's bigram counts: the V x V matrix N of the train split, drawn by plot_counts and plot_nn."""

from makemore.artifacts import load_vocab, read_words, run_stage, save_tensors
from makemore.bigram import count_bigrams


def main() -> None:
    vocab = load_vocab("data/prepared/vocab.json")
    counts = count_bigrams(vocab, read_words("data/prepared/train.txt"))
    save_tensors("data/bigrams/counts.pt", {"counts": counts}, vocab)


if __name__ == "__main__":
    run_stage(main)
