"""The count grid figure: every bigram of the train split with its count."""

from makemore.artifacts import load_tensors, load_vocab, run_stage, write_bytes
from makemore.figures import count_grid


def main() -> None:
    vocab = load_vocab("data/prepared/vocab.json")
    counts = load_tensors("data/bigrams/counts.pt")["counts"]
    write_bytes("metrics/count_grid.png", count_grid(counts, vocab.labels))


if __name__ == "__main__":
    run_stage(main)
