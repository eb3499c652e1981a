"""The most probable words under any model, in exact order: a best-first search over prefixes.

A prefix's probability bounds that of every word that extends it, since each further token has p <= 1; so when the
most probable entry left is a whole word, no prefix left can give a better one. The same holds per token for a word
of at most `longest` characters: its NLL per token is at least its prefix's NLL over longest + 1 tokens.
"""

import heapq
import itertools
import math
from collections.abc import Callable, Iterator, Sequence

import torch

from makemore import MakemoreError
from makemore.interface import Model
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

    def key(cost: float, length: int, whole: bool) -> float:
        return cost / ((length if whole else longest) + 1) if per_token else cost

    order = itertools.count()  # breaks ties between equal keys: first found, first out
    start_cost = -prefix_log_probability(model, prefix)
    if start_cost == math.inf:
        raise MakemoreError(
            "the model gives the prefix probability 0: no word that starts with it is possible"
        )
    frontier = [(key(start_cost, len(prefix), False), next(order), start_cost, tuple(prefix), False)]
    found_keys: list[float] = []  # the `num` smallest keys of the words found so far, negated (a max-heap)
    found = expanded = 0
    while frontier and found < num:
        if frontier[0][4]:  # a whole word first: nothing left can beat it
            _, _, cost, word, _ = heapq.heappop(frontier)
            found += 1
            yield list(word), -cost
            continue
        batch = []
        while frontier and not frontier[0][4] and len(batch) < EXPANDED_AT_ONCE:
            batch.append(heapq.heappop(frontier))
        expanded += len(batch)
        if expanded > MAX_EXPANDED:
            raise MakemoreError(
                f"the search expanded {MAX_EXPANDED:,} prefixes and found {found} of the {num} words: "
                "narrow the constraints (a shorter --length, a --prefix), or ask for fewer"
            )
        log_p = model.log_probs(windows(model, [entry[3] for entry in batch])).double().tolist()  # (B, V)
        for (_, _, cost, tokens, _), row in zip(batch, log_p):
            for extended, token_log_p, whole in extensions(tokens, row, admits, longest):
                child_cost = cost - token_log_p
                child_key = key(child_cost, len(extended), whole)
                if len(found_keys) == num and child_key > -found_keys[0]:
                    continue  # num words already found beat anything this one leads to
                if whole:
                    (heapq.heappush if len(found_keys) < num else heapq.heappushpop)(found_keys, -child_key)
                heapq.heappush(frontier, (child_key, next(order), child_cost, extended, whole))


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
