"""The most probable words under any model, in exact order: a best-first search over prefixes.

A prefix's probability bounds that of every word that extends it, since each further token has p <= 1; so when the
most probable entry left is a whole word, no prefix left can give a better one. The same holds per token for a word
of at most `longest` characters: its NLL per token is at least its prefix's NLL over longest + 1 tokens.
"""

import heapq
import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch

from makemore import MakemoreError
from makemore.models.interface import Model
from makemore.vocab import BOUNDARY

EXPANDED_AT_ONCE = 512  # prefixes given to the model in one call
MAX_EXPANDED = 200_000  # prefixes expanded before the search gives up


def most_likely(
    model: Model,
    num: int,
    admits: Callable[[list[int]], bool],
    longest: int,
    prefix: Sequence[int] = (),
    per_token: bool = False,
) -> Iterator[tuple[list[int], float]]:
    """The `num` most probable words that start with `prefix`, have at most `longest` characters and that `admits`,
    most probable first (per_token: lowest NLL per token first), each as its tokens and its log-probability.

    Ties keep the order in which they were found. A search that expands MAX_EXPANDED prefixes first is refused in one
    line, after the words it found.
    """
    start_cost = -prefix_log_probability(model, prefix)
    if start_cost == math.inf:
        raise MakemoreError(
            "the model gives the prefix probability 0: no word that starts with it is possible"
        )
    frontier = Frontier(num, longest, per_token)
    frontier.push(start_cost, tuple(prefix), whole=False)
    found = expanded = 0
    while frontier.entries and found < num:
        if frontier.entries[0][-1]:  # a whole word first: nothing left can beat it
            _, _, cost, word, _ = heapq.heappop(frontier.entries)
            found += 1
            yield list(word), -cost
            continue
        batch = frontier.prefixes(EXPANDED_AT_ONCE)
        expanded += len(batch)
        if expanded > MAX_EXPANDED:
            raise MakemoreError(
                f"the search expanded {MAX_EXPANDED:,} prefixes and found {found} of the {num} words: "
                "narrow the constraints (a shorter --length, a --prefix), or ask for fewer"
            )
        log_p = model.log_probs(windows(model, [tokens for _, tokens in batch])).double().tolist()  # (B, V)
        for (cost, tokens), row in zip(batch, log_p):
            for extended, token_log_p, whole in extensions(tokens, row, admits, longest):
                frontier.push(cost - token_log_p, extended, whole)


@dataclass
class Frontier:
    """The search's heap of prefixes to expand and whole words to give, smallest key first, and the keys of the
    `num` best words pushed so far, which prune any entry that cannot beat them."""

    num: int
    longest: int  # the most characters of a word
    per_token: bool  # the key is the NLL per token (else the NLL of the whole word)
    entries: list[tuple[float, int, float, tuple[int, ...], bool]] = field(default_factory=list)
    found_keys: list[float] = field(default_factory=list)  # the `num` smallest keys of whole words, negated
    order: Iterator[int] = field(default_factory=itertools.count)  # ties: first pushed, first out

    def key(self, cost: float, length: int, whole: bool) -> float:
        """A word's NLL (per token), or the least that any word extending a prefix can have."""
        return cost / ((length if whole else self.longest) + 1) if self.per_token else cost

    def push(self, cost: float, tokens: tuple[int, ...], whole: bool) -> None:
        key = self.key(cost, len(tokens), whole)
        if len(self.found_keys) == self.num and key > -self.found_keys[0]:
            return  # num words already found beat anything this one leads to
        if whole:
            (heapq.heappush if len(self.found_keys) < self.num else heapq.heappushpop)(self.found_keys, -key)
        heapq.heappush(self.entries, (key, next(self.order), cost, tokens, whole))

    def prefixes(self, most: int) -> list[tuple[float, tuple[int, ...]]]:
        """Up to `most` prefixes from the front, before the first whole word: each one's cost and tokens."""
        batch = []
        while self.entries and not self.entries[0][-1] and len(batch) < most:
            _, _, cost, tokens, _ = heapq.heappop(self.entries)
            batch.append((cost, tokens))
        return batch


def extensions(
    tokens: tuple[int, ...], log_p: list[float], admits: Callable[[list[int]], bool], longest: int
) -> Iterator[tuple[tuple[int, ...], float, bool]]:
    """Each way one more token can take a prefix that may still meet the constraints: the tokens it gives, the
    token's log p, and whether it ends the word (then the tokens are the word's)."""
    for token, token_log_p in enumerate(log_p):
        if token_log_p == -math.inf:
            continue
        if token == BOUNDARY:
            if tokens and admits(list(tokens)):
                yield tokens, token_log_p, True
        elif len(tokens) < longest:
            yield (*tokens, token), token_log_p, False


def windows(model: Model, prefixes: Sequence[Sequence[int]]) -> torch.Tensor:
    """(B, context_length): the last context_length tokens before each prefix's next one, padded with the boundary."""
    padded = [[BOUNDARY] * model.context_length + list(tokens) for tokens in prefixes]
    return torch.tensor([row[len(row) - model.context_length :] for row in padded], dtype=torch.long)


def prefix_log_probability(model: Model, prefix: Sequence[int]) -> float:
    """log p(the word starts with `prefix`): the sum of each of its tokens' log p given the ones before it."""
    if not prefix:
        return 0.0
    contexts = windows(model, [prefix[:end] for end in range(len(prefix))])
    return model.log_probs_of(contexts, torch.tensor(prefix, dtype=torch.long)).double().sum().item()
