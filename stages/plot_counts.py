"""The count grid figure: every bigram of the train split with its count."""

from makemore.artifacts import run_stage, write_bytes
from makemore.bigram import load_counts
from makemore.figures import grid, png
from makemore.vocab import load_vocab


def main() -> None:
    vocab = load_vocab()
    counts = load_counts("data/bigrams/counts.pt", vocab)
    title = "Bigram counts N in the train split (row: a character, column: the next one)"
    write_bytes("metrics/count_grid.png", png(grid(counts, vocab.labels, title, fmt=".0f")))


if __name__ == "__main__":
    run_stage(main)
