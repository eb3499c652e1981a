"""The vocabulary of characters, the encoding of words as indices, and the train/val/test split."""

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from makemore import MakemoreError
from makemore.artifacts import write_json

BOUNDARY = 0  # index of the token that starts and ends every word
SPLITS = ("train", "val", "test")
CHUNK_WORDS = 1_000_000  # words encoded at once
VOCAB_FILE = "data/prepared/vocab.json"  # the prepare stage's, read by every stage and command after it


@dataclass(frozen=True)
class Vocabulary:
    """Index 0 is the boundary token; index i + 1 is `chars[i]`.

    The boundary token is an index, not a character, so it cannot collide with the data: `boundary`
    is only how it is shown, and is chosen to differ from every data character.
    """

    chars: tuple[str, ...]
    boundary: str = "."
    codepoints: torch.Tensor = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if not self.chars:
            raise ValueError("a vocabulary needs at least one character")
        if any(len(c) != 1 for c in self.chars) or list(self.chars) != sorted(set(self.chars)):
            raise ValueError("chars must be distinct single characters in sorted order")
        if self.boundary in self.chars:
            raise ValueError(f"boundary {self.boundary!r} is also a data character")
        object.__setattr__(self, "codepoints", torch.tensor([ord(c) for c in self.chars], dtype=torch.int32))

    @classmethod
    def from_words(cls, words: Sequence[str]) -> "Vocabulary":
        chars = tuple(sorted(set("".join(words))))
        # "." as in the lecture; a longer label when "." is itself data, as no single character can equal it.
        return cls(chars, boundary="." if "." not in chars else "<.>")

    @property
    def size(self) -> int:
        return len(self.chars) + 1

    @property
    def labels(self) -> list[str]:
        return [self.boundary, *self.chars]

    def encode(self, words: Sequence[str], dtype: torch.dtype = torch.long) -> torch.Tensor:
        """The indices of `.w1.w2. ... .wn.`: its consecutive pairs are exactly the bigrams of every word.

        Vectorised: the text is decoded to code points and looked up with a binary search in the sorted
        characters, instead of a Python lookup per character. It goes CHUNK_WORDS words at a time, so
        the temporary copies stay small whatever the corpus, and only the result, in `dtype`, grows.
        """
        starts = range(0, max(len(words), 1), CHUNK_WORDS)
        # each chunk starts with the boundary that ended the one before: keep it only in the first
        return torch.cat(
            [
                self._encode_chunk(words[start : start + CHUNK_WORDS], dtype)[1 if start else 0 :]
                for start in starts
            ]
        )

    def _encode_chunk(self, words: Sequence[str], dtype: torch.dtype) -> torch.Tensor:
        # "\n" marks the boundaries: lines never hold one
        text = "".join(f"\n{word}" for word in words) + "\n"
        codepoints = torch.frombuffer(bytearray(text.encode("utf-32-le")), dtype=torch.int32)
        positions = torch.searchsorted(self.codepoints, codepoints, out_int32=True).clamp(
            max=len(self.chars) - 1
        )
        is_boundary = codepoints == ord("\n")
        unknown = ~(is_boundary | (self.codepoints[positions] == codepoints))
        if unknown.any():
            char = chr(codepoints[unknown.nonzero()[0, 0]].item())
            raise MakemoreError(f"character {char!r} is not in the vocabulary")
        return torch.where(is_boundary, BOUNDARY, positions + 1).to(dtype)

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.chars[i - 1] for i in ids)


def split_words(
    words: Sequence[str], fractions: dict[str, float], seed: int, duplicates: Literal["drop", "keep"] = "drop"
) -> dict[str, list[str]]:
    """Shuffle the distinct words with a seeded generator and cut them into consecutive parts of the given
    fractions (summing to 1). A word is in one split only, so no held-out NLL measures a word seen in training:
    a repeated line is kept once (`drop`) or with all its copies, in its word's split (`keep`)."""
    copies = Counter(words)  # in the order of first occurrence: without repeats, the words as they are
    distinct = list(copies)
    order = torch.randperm(len(distinct), generator=torch.Generator().manual_seed(seed)).tolist()
    sizes = [int(len(distinct) * fraction) for fraction in fractions.values()]
    sizes[0] += len(distinct) - sum(sizes)  # what rounding down left over goes to the first split
    splits, start = {}, 0
    for (name, fraction), size in zip(fractions.items(), sizes):
        if size == 0:
            raise MakemoreError(
                f"split.{name} = {fraction} leaves the {name} split empty with {len(distinct)} distinct words"
            )
        chosen = [distinct[i] for i in order[start : start + size]]
        splits[name] = (
            [word for word in chosen for _ in range(copies[word])] if duplicates == "keep" else chosen
        )
        start += size
    return splits


def save_vocab(vocab: Vocabulary, path: str | Path = VOCAB_FILE) -> None:
    write_json(path, {"boundary": vocab.boundary, "chars": list(vocab.chars)})


def load_vocab(path: str | Path = VOCAB_FILE) -> Vocabulary:
    try:
        fields = json.loads(Path(path).read_text(encoding="utf-8"))
        return Vocabulary(chars=tuple(fields["chars"]), boundary=fields["boundary"])
    except FileNotFoundError:
        raise MakemoreError(f"{path}: no such file (run `dvc repro` to make it)") from None
    except (ValueError, KeyError, TypeError) as e:
        raise MakemoreError(f"{path}: not a vocabulary file ({type(e).__name__}: {e})") from None
