"""Bigram tensors: the xs/ys index pairs of every split, and the count matrix of the train split."""

from makemore.artifacts import index_dtype, load_vocab, read_words, run_stage, save_tensors
from makemore.bigram import SPLITS, bigrams, count_bigrams


def main() -> None:
    vocab = load_vocab("data/prepared/vocab.json")
    for split in SPLITS:
        # xs and ys are two views of one tensor of indices, which torch.save stores once
        xs, ys = bigrams(vocab.encode(read_words(f"data/prepared/{split}.txt"), index_dtype(vocab.size)))
        save_tensors(f"data/bigrams/{split}.pt", {"xs": xs, "ys": ys}, vocab)
        if split == "train":
            save_tensors("data/bigrams/counts.pt", {"counts": count_bigrams(xs, ys, vocab.size)}, vocab)


if __name__ == "__main__":
    run_stage(main)
