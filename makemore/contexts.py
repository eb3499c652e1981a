"""Contexts: the tokens before each predicted position of a word, and an index of the contexts seen in training.

A word is predicted one token at a time, its characters and then the end boundary. The context of a
position is the tokens before it; before the word starts it is padded with the boundary token, as
makemore pads with `.`: the contexts of two tokens in `emma` are `..`, `.e`, `em`, `mm` and `ma`. So
every model, whatever its context length, predicts the same tokens and its NLL per token is comparable.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from makemore.vocab import BOUNDARY, Vocabulary


@dataclass(frozen=True)
class Positions:
    """Every predicted position of some words: the token there and how far it is into its word."""

    stream: torch.Tensor  # the encoded words, `.w1.w2. ... .wn.` (int64)
    targets: torch.Tensor  # stream[1:]: the token predicted at each position
    offsets: torch.Tensor  # each position's index in its word: 0 for the first character, len(word) for the end

    @classmethod
    def of(cls, vocab: Vocabulary, words: Sequence[str]) -> "Positions":
        stream = vocab.encode(words)
        index = torch.arange(len(stream))
        last_boundary = torch.where(stream == BOUNDARY, index, 0).cummax(dim=0).values
        return cls(stream, stream[1:], (index[1:] - last_boundary[:-1] - 1).int())

    def __len__(self) -> int:
        return len(self.targets)

    def token_back(self, distance: int, at: torch.Tensor | None = None) -> torch.Tensor:
        """The token `distance` places before each position (or those `at`): the boundary once that is before its word."""
        at = torch.arange(len(self)) if at is None else at
        tokens = self.stream[(at + 1 - distance).clamp(min=0)]
        return torch.where(self.offsets[at] >= distance, tokens, BOUNDARY)

    def contexts(self, length: int, at: torch.Tensor) -> torch.Tensor:
        """The last `length` tokens before the positions `at`, oldest first: the rows a model's `log_probs` takes."""
        columns = [self.token_back(distance, at) for distance in range(length, 0, -1)]
        return torch.stack(columns, dim=1) if columns else torch.zeros(len(at), 0, dtype=torch.long)


class ContextIndex:
    """The distinct contexts of each length up to `length` that training saw, numbered by sorted key.

    A context of length L is its own length-(L-1) suffix plus the token L places back, so its key is
    `id of the suffix * V + that token`: keys stay below (number of contexts) * V, never V ** L, and a
    lookup is L binary searches. The empty context is the only one of length 0, with id 0.
    """

    def __init__(self, keys: list[torch.Tensor], vocab_size: int):
        self.keys = keys  # keys[L - 1]: the sorted keys of the contexts of length L
        self.vocab_size = vocab_size

    @property
    def length(self) -> int:
        return len(self.keys)

    @classmethod
    def build(cls, positions: Positions, length: int, vocab_size: int) -> tuple["ContextIndex", list[torch.Tensor]]:
        """The index of every context in `positions`, and each position's context id at every length 0..length."""
        ids = [torch.zeros(len(positions), dtype=torch.long)]
        keys = []
        for distance in range(1, length + 1):
            level_keys, level_ids = torch.unique(ids[-1] * vocab_size + positions.token_back(distance), return_inverse=True)
            keys.append(level_keys)
            ids.append(level_ids)
        return cls(keys, vocab_size), ids

    def lookup(self, contexts: torch.Tensor) -> list[torch.Tensor]:
        """Each context's id at every length 0..self.length, -1 where training never saw it (nor so any longer one).

        `contexts` holds at least `self.length` tokens per row, oldest first.
        """
        ids = [torch.zeros(len(contexts), dtype=torch.long)]
        for distance, level_keys in enumerate(self.keys, start=1):
            keys = ids[-1] * self.vocab_size + contexts[:, -distance]
            found = torch.searchsorted(level_keys, keys).clamp(max=max(len(level_keys) - 1, 0))
            seen = (ids[-1] >= 0) & (level_keys[found] == keys) if len(level_keys) else torch.zeros_like(keys, dtype=torch.bool)
            ids.append(torch.where(seen, found, -1))
        return ids
