"""Contexts: the tokens before each predicted position of a word, and an index of the contexts seen in training.

A word is predicted one token at a time, its characters and then the end boundary. The context of a
position is the tokens before it; before the word starts it is padded with the boundary token, as
makemore pads with `.`: the contexts of two tokens in `emma` are `..`, `.e`, `em`, `mm` and `ma`. So
every model, whatever its context length, predicts the same tokens and its NLL per token is comparable.
"""

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from makemore.artifacts import read_word_chunks, read_words
from makemore.vocab import BOUNDARY, Vocabulary

IGNORED = -1  # the target after a word's end, where a batch of words is padded
EVAL_TOKENS = 1 << 16  # positions (words x their width) run through a net at once when predicting


@dataclass(frozen=True)
class Positions:
    """Every predicted position of some words: the token there and how far it is into its word."""

    # the encoded words, `.w1.w2. ... .wn.` (int32: half the memory of int64 for millions of words)
    stream: torch.Tensor
    targets: torch.Tensor  # stream[1:]: the token predicted at each position
    # each position's index in its word: 0 for the first character, len(word) for the end
    offsets: torch.Tensor

    @classmethod
    def of(cls, vocab: Vocabulary, words: Sequence[str]) -> "Positions":
        stream = vocab.encode(words, torch.int32)
        # offsets count up by 1 and fall back to 0 at each word's first position: a cumulative sum of steps of
        # 1, where each start's step takes back the length of the word before (int32 throughout: no int64 copy)
        starts = (stream[:-1] == BOUNDARY).nonzero().squeeze(1)
        steps = torch.ones(len(stream) - 1, dtype=torch.int32)
        steps[starts] = -(starts - torch.cat([starts[:1], starts[:-1]]) - 1).int()
        steps[0] = 0
        return cls(stream, stream[1:], steps.cumsum(0, dtype=torch.int32))

    def __len__(self) -> int:
        return len(self.targets)

    def whole(self) -> "Positions":
        """A split's positions at once (`Split`): these."""
        return self

    def chunks(self) -> Iterator["Positions"]:
        """A split's positions a block of words at a time (`Split`): these, in one block."""
        yield self

    def share(self, index: int, parts: int) -> "Positions":
        """The positions of the `index`-th of `parts` consecutive shares of the words, as even as whole words allow."""
        starts = (self.offsets == 0).nonzero().squeeze(1).tolist() + [len(self)]
        words = len(starts) - 1
        begin, end = starts[words * index // parts], starts[words * (index + 1) // parts]
        return Positions(self.stream[begin : end + 1], self.targets[begin:end], self.offsets[begin:end])

    def token_back(self, distance: int, at: torch.Tensor | None = None) -> torch.Tensor:
        """The token `distance` places before each position (or those `at`): the boundary once that is before its word."""
        if at is None:  # every position: a shifted view of the stream, no gather
            tokens = torch.cat(
                [
                    torch.full((distance - 1,), BOUNDARY, dtype=self.stream.dtype),
                    self.stream[: len(self.stream) - distance],
                ]
            )
            return torch.where(self.offsets >= distance, tokens[: len(self)], BOUNDARY)
        tokens = self.stream[(at + 1 - distance).clamp(min=0)]
        return torch.where(self.offsets[at] >= distance, tokens, BOUNDARY)

    def contexts(self, length: int, at: torch.Tensor) -> torch.Tensor:
        """The last `length` tokens before the positions `at`, oldest first: the rows a model's `log_probs` takes."""
        columns = [self.token_back(distance, at) for distance in range(length, 0, -1)]
        return torch.stack(columns, dim=1) if columns else torch.zeros(len(at), 0, dtype=torch.long)


class Split(Protocol):
    """A split's positions, held in memory (Positions) or read from its file (SplitFile): a family that can count a
    block of words at a time takes `chunks()`, and never holds a split larger than the memory."""

    def whole(self) -> Positions: ...

    def chunks(self) -> Iterator[Positions]: ...


@dataclass(frozen=True)
class SplitFile:
    """A split's words in their file (a word a line), read as positions at once or a block at a time."""

    vocab: Vocabulary
    path: Path

    def whole(self) -> Positions:
        return Positions.of(self.vocab, read_words(self.path))

    def chunks(self) -> Iterator[Positions]:
        for words in read_word_chunks(self.path):
            if words:  # a block may have only blank lines
                yield Positions.of(self.vocab, words)


def numbered(keys: torch.Tensor, bound: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What torch.unique(keys, return_inverse=True, return_counts=True) gives for keys in [0, bound):
    the distinct keys sorted (int64), each key's index among them (int32 when it fits), and their counts.

    By counting when the range is no larger than the keys: O(n) instead of a sort, the slow part of
    fitting a model on millions of words.
    """
    if bound <= max(len(keys), 1 << 16):
        counts = torch.bincount(keys, minlength=bound)
        present = counts > 0
        ranks = present.cumsum(0, dtype=torch.int32 if bound < 2**31 else torch.int64) - 1
        return present.nonzero().squeeze(1), ranks[keys], counts[present]
    distinct, inverse, counts = torch.unique(keys, return_inverse=True, return_counts=True)
    # int64 keys either way: a model file's types do not depend on the data's size
    return (distinct.long(), inverse, counts)


def padded_words(positions: Positions, fill: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every word of `positions` as a row: (W, T) inputs from its start boundary, padded with the boundary;
    (W, T) targets up to its end boundary, then `fill`; and (W,) its number of characters."""
    starts = (positions.offsets == 0).nonzero().squeeze(1)
    ends = torch.cat([starts[1:], starts.new_tensor([len(positions)])])
    lengths = ends - starts  # positions per word: its characters and the end
    columns = torch.arange(int(lengths.max()))
    at = (starts[:, None] + columns[None]).clamp(max=len(positions) - 1)  # (W, T)
    inside = columns[None] < lengths[:, None]
    inputs = torch.where(inside, positions.stream[at].long(), BOUNDARY)
    targets = torch.where(inside, positions.targets[at].long(), fill)
    return inputs, targets, lengths - 1


def from_word_start(contexts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, L) contexts shifted left to start at their word's start boundary (the last boundary in them), and
    (B,) the column where each now ends. A context without a boundary is left as it is."""
    contexts = contexts.long()
    width = contexts.shape[1]
    columns = torch.arange(width)
    start = torch.where(contexts == BOUNDARY, columns, 0).amax(1)
    shifted = contexts.gather(1, (start[:, None] + columns[None]).clamp(max=width - 1))
    return shifted, width - 1 - start


def windows(words: torch.Tensor, length: int, positions: torch.Tensor | None = None) -> torch.Tensor:
    """(B, T) words from their start boundary -> (B, T, length): the last `length` tokens up to each position,
    padded with the boundary before the word. With `positions` (B, T), each token's position in its word in
    rows of several words, a token before a position's word start is the boundary too."""
    padded = torch.nn.functional.pad(words, (length - 1, 0), value=BOUNDARY)
    contexts = padded.unfold(1, length, 1)  # (B, T, length)
    if positions is None:
        return contexts
    back = torch.arange(length - 1, -1, -1, device=words.device)  # how far each token is before the position
    return contexts.masked_fill(back > positions[:, :, None], BOUNDARY)


def distinct_contexts(positions: Positions, length: int, vocab_size: int) -> tuple[int, torch.Tensor]:
    """How many distinct contexts of `length` tokens `positions` have, and each position's number among them.

    Built a token further back at a time, as ContextIndex's levels, but only over the positions whose context
    still reaches into their word: past its start boundary a context is padding, so its number is final. The
    cost is the words' lengths, not `length` times every position: one long word does not make every short
    one pay for its length.
    """
    ids, count = torch.zeros(len(positions), dtype=torch.long), 1
    for distance in range(1, length + 1):
        # the start boundary, or a character
        inside = (positions.offsets >= distance - 1).nonzero().squeeze(1)
        if not len(inside):
            break
        _, ranks, _ = numbered(
            ids[inside] * vocab_size + positions.token_back(distance, inside), count * vocab_size
        )
        ids[inside] = count + ranks.long()  # new numbers, apart from those of the contexts already complete
        count += int(ranks.max()) + 1
    _, ids, counts = numbered(ids, count)
    return len(counts), ids


def combined(ids: torch.Tensor, vocab_size: int, tokens: torch.Tensor, contexts: int) -> torch.Tensor:
    """ids * V + tokens, for ids below `contexts`: in int32 when that holds every value, else in int64."""
    if contexts * vocab_size >= 2**31:
        ids = ids.long()
    return (ids * vocab_size).add_(tokens)


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
    def count(self) -> int:
        """How many contexts of the longest length training saw (1, the empty one, for length 0)."""
        return len(self.keys[-1]) if self.keys else 1

    def tensors(self) -> dict[str, torch.Tensor]:
        return {f"contexts.{length}": keys for length, keys in enumerate(self.keys, start=1)}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], length: int, vocab_size: int) -> "ContextIndex":
        """The index that `tensors()` saved, checked: sorted int64 keys, each below (contexts of the level below) * V."""
        keys = [tensors[f"contexts.{level}"] for level in range(1, length + 1)]
        below = 1
        for level_keys in keys:
            if level_keys.dtype != torch.int64 or level_keys.dim() != 1 or not len(level_keys):
                raise ValueError("context keys must be a non-empty 1-D int64 tensor")
            if (level_keys.diff() <= 0).any() or level_keys[0] < 0 or level_keys[-1] >= below * vocab_size:
                raise ValueError(
                    "context keys must be sorted, distinct and below (contexts of the level below) * V"
                )
            below = len(level_keys)
        return cls(keys, vocab_size)

    @staticmethod
    def levels(
        positions: Positions, length: int, vocab_size: int
    ) -> Iterator[tuple[torch.Tensor | None, torch.Tensor]]:
        """For L = 0..length: the sorted keys of the contexts of length L in `positions` (None for the empty
        one), and each position's context id at that length. One level at a time: only one is held."""
        ids, contexts = torch.zeros(len(positions), dtype=torch.int32), 1
        yield None, ids
        for distance in range(1, length + 1):
            keys, ids, _ = numbered(
                combined(ids, vocab_size, positions.token_back(distance), contexts), contexts * vocab_size
            )
            contexts = len(keys)
            yield keys, ids

    @classmethod
    def build(cls, positions: Positions, length: int, vocab_size: int) -> tuple["ContextIndex", torch.Tensor]:
        """The index of every context in `positions`, and each position's id of its context of `length` tokens."""
        keys = []
        for level_keys, ids in cls.levels(positions, length, vocab_size):  # noqa: B007 (the last level's ids are returned)
            if level_keys is not None:
                keys.append(level_keys)
        return cls(keys, vocab_size), ids

    def lookup(self, contexts: torch.Tensor) -> list[torch.Tensor]:
        """Each context's id at every length 0..len(self.keys), -1 where training never saw it (nor so any longer one).

        `contexts` holds at least len(self.keys) tokens per row, oldest first.
        """
        ids = [torch.zeros(len(contexts), dtype=torch.long)]
        for distance, level_keys in enumerate(self.keys, start=1):
            keys = ids[-1] * self.vocab_size + contexts[:, -distance]
            found = torch.searchsorted(level_keys, keys).clamp(max=len(level_keys) - 1)
            ids.append(torch.where((ids[-1] >= 0) & (level_keys[found] == keys), found, -1))
        return ids


def length_chunks(ends: list[int]) -> Iterator[tuple[int, int]]:
    """Slices [first, last) of words sorted by length (`ends`, the last position of each) whose words, each
    padded to the longest of its slice, hold at most EVAL_TOKENS positions; a longer word is a slice alone."""
    first = 0
    while first < len(ends):
        fitting = bisect.bisect_right(
            range(first + 1, len(ends) + 1),
            EVAL_TOKENS,
            key=lambda last: (last - first) * (ends[last - 1] + 1),
        )
        last = first + max(fitting, 1)
        yield first, last
        first = last
