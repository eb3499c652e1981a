"""Vocabulary and splits: read the words, build the vocabulary, shuffle into train/val/test."""

from makemore.artifacts import read_words, run_stage, save_vocab, write_words
from makemore.params import load_params
from makemore.vocab import Vocabulary, split_words


def main() -> None:
    params = load_params()
    words = read_words(params.data.path, params.data.max_len)
    vocab = Vocabulary.from_words(words)
    splits = split_words(words, params.split.fractions, params.split.seed)
    save_vocab("data/prepared/vocab.json", vocab)
    for name, split in splits.items():
        write_words(f"data/prepared/{name}.txt", split)


if __name__ == "__main__":
    run_stage(main)
