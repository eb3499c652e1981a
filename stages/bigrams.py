"""Bigram tensors: the xs/ys index pairs of every split, and the count matrix of the train split."""

from makemore.artifacts import index_dtype, load_vocab, read_words, run_stage, save_tensors
from makemore.bigram import SPLITS, bigrams, count_bigrams


def main() -> None:
    vocab = load_vocab("data/prepared/vocab.json")
    dtype = index_dtype(vocab.size)
    for split in SPLITS:
        xs, ys = bigrams(vocab.encode(read_words(f"data/prepared/{split}.txt")))
        save_tensors(f"data/bigrams/{split}.pt", {"xs": xs.to(dtype), "ys": ys.to(dtype)}, vocab)
        if split == "train":
            save_tensors("data/bigrams/counts.pt", {"counts": count_bigrams(xs, ys, vocab.size)}, vocab)


if __name__ == "__main__":
    run_stage(main)
