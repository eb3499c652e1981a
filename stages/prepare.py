"""Vocabulary and splits: read the words, build the vocabulary, shuffle the distinct words into train/val/test."""

import sys

from makemore.artifacts import read_words, run_stage, write_json, write_words
from makemore.params import load_params
from makemore.vocab import Vocabulary, save_vocab, split_words


def main() -> None:
    params = load_params()
    words = read_words(params.data.path, params.data.max_len)
    vocab = Vocabulary.from_words(words)
    splits = split_words(words, params.split.fractions, params.split.seed, params.data.duplicates)
    repeats = len(words) - len(set(words))
    dropped = repeats if params.data.duplicates == "drop" else 0
    if repeats:
        print(
            f"{params.data.path}: {repeats:,} of {len(words):,} words repeat an earlier line; "
            f"data.duplicates = {params.data.duplicates}: {dropped:,} dropped",
            file=sys.stderr,
        )
    save_vocab(vocab)
    for name, split in splits.items():
        write_words(f"data/prepared/{name}.txt", split)
    sizes = {name: len(split) for name, split in splits.items()}
    write_json(
        "metrics/prepare.json",
        {
            "words": len(words),
            "distinct": len(words) - repeats,
            "repeats": repeats,
            "dropped": dropped,
            **sizes,
        },
    )


if __name__ == "__main__":
    run_stage(main)
