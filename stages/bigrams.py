"""The lecture's bigram counts: the V x V matrix N of the train split, drawn by plot_counts and plot_nn."""

from makemore.artifacts import read_words, run_stage
from makemore.bigram import count_bigrams, save_counts
from makemore.vocab import load_vocab


def main() -> None:
    vocab = load_vocab()
    counts = count_bigrams(vocab, read_words("data/prepared/train.txt"))
    save_counts("data/bigrams/counts.pt", counts, vocab)


if __name__ == "__main__":
    run_stage(main)
