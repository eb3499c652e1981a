"""The vocabulary of characters, and the encoding of words as indices.

torch is imported where words are encoded, not here: the prepare stage, which only makes the vocabulary, starts
without it (about a second).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from makemore import MakemoreError
from makemore.artifacts import write_json

BOUNDARY = 0  # index of the token that starts and ends every word
SPLITS = ("train", "val", "test")
CHUNK_WORDS = 1_000_000  # words encoded at once
VOCAB_FILE = "data/prepared/vocab.json"  # the prepare stage's, read by every stage and command after it

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Vocabulary:
    """Index 0 is the boundary token; index i + 1 is `chars[i]`.

    The boundary token is an index, not a character, so it cannot collide with the data: `boundary`
    is only how it is shown, and is chosen to differ from every data character.
    """

    chars: tuple[str, ...]
    boundary: str = "."

    def __post_init__(self):
        if not self.chars:
            raise ValueError("a vocabulary needs at least one character")
        if any(len(c) != 1 for c in self.chars) or list(self.chars) != sorted(set(self.chars)):
            raise ValueError("chars must be distinct single characters in sorted order")
        if self.boundary in self.chars:
            raise ValueError(f"boundary {self.boundary!r} is also a data character")

    @cached_property
    def codepoints(self) -> torch.Tensor:
        """(V - 1,): the characters' code points, sorted as the characters are; model files hold it."""
        import torch

        return torch.tensor([ord(c) for c in self.chars], dtype=torch.int32)

    @classmethod
    def from_words(cls, words: Sequence[str]) -> Vocabulary:
        return cls.from_chars(set("".join(words)))

    @classmethod
    def from_chars(cls, chars: Iterable[str]) -> Vocabulary:
        chars = tuple(sorted(set(chars)))
        # "." as in the lecture; a longer label when "." is itself data, as no single character can equal it.
        return cls(chars, boundary="." if "." not in chars else "<.>")

    @property
    def size(self) -> int:
        return len(self.chars) + 1

    @property
    def labels(self) -> list[str]:
        return [self.boundary, *self.chars]

    def encode(self, words: Sequence[str], dtype: torch.dtype | None = None) -> torch.Tensor:
        """The indices of `.w1.w2. ... .wn.`: its consecutive pairs are exactly the bigrams of every word.

        Vectorised: the text is decoded to code points and looked up with a binary search in the sorted
        characters, instead of a Python lookup per character. It goes CHUNK_WORDS words at a time, so
        the temporary copies stay small whatever the corpus, and only the result, in `dtype` (long by default),
        grows.
        """
        import torch

        dtype = torch.long if dtype is None else dtype
        starts = range(0, max(len(words), 1), CHUNK_WORDS)
        # each chunk starts with the boundary that ended the one before: keep it only in the first
        return torch.cat(
            [
                self._encode_chunk(words[start : start + CHUNK_WORDS], dtype)[1 if start else 0 :]
                for start in starts
            ]
        )

    def _encode_chunk(self, words: Sequence[str], dtype: torch.dtype) -> torch.Tensor:
        import torch

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
