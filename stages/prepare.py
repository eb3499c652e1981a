"""Vocabulary and splits: read the words a block at a time, and split the distinct words by a seeded hash of each."""

import sys
from collections.abc import Iterator

from makemore.artifacts import read_word_chunks, run_stage, write_json
from makemore.params import load_params
from makemore.splits import Splits
from makemore.vocab import SPLITS, Vocabulary, save_vocab


def main() -> None:
    params = load_params()
    chars = set()

    def words() -> Iterator[list[str]]:  # and their characters, in the same pass
        for chunk in read_word_chunks(params.data.path, params.data.max_len, params.data.normalize):
            chars.update("".join(chunk))
            yield chunk

    with Splits.of(words(), params.split.fractions, params.split.seed, params.data.duplicates) as splits:
        lines, distinct = splits.lines(), splits.distinct()
        repeats = lines - distinct
        dropped = repeats if params.data.duplicates == "drop" else 0
        if repeats:
            print(
                f"{params.data.path}: {repeats:,} of {lines:,} words repeat an earlier line; "
                f"data.duplicates = {params.data.duplicates}: {dropped:,} dropped",
                file=sys.stderr,
            )
        save_vocab(Vocabulary.from_chars(chars))
        for name in SPLITS:
            splits.write(name, f"data/prepared/{name}.txt")
        sizes = {name: splits.size(name) for name in SPLITS}
    write_json(
        "metrics/prepare.json",
        {"words": lines, "distinct": distinct, "repeats": repeats, "dropped": dropped, **sizes},
    )


if __name__ == "__main__":
    run_stage(main)
