"""The log-likelihood of a split under any model, through the model interface: what evaluation reports and
what a family watches on val while it trains."""

import math

import torch

from makemore.models.contexts import Positions, Split, combined, distinct_contexts, numbered
from makemore.models.interface import Model

# (contexts x V) log-probabilities, or (contexts x context length) tokens, held at once
CHUNK_ENTRIES = 1 << 22


def total_log_likelihood(model: Model, positions: Positions) -> tuple[float, int]:
    """The sum of log p(token | context) over every position, and how many positions have p = 0."""
    counts, log_p, _ = pair_log_likelihoods(model, positions)
    return (counts * log_p).sum().item(), int(counts[log_p == -math.inf].sum())


def position_log_likelihoods(model: Model, positions: Positions) -> torch.Tensor:
    """(N,) float64: log p(token | context) at each position."""
    _, log_p, pair_of_position = pair_log_likelihoods(model, positions)
    return log_p[pair_of_position.long()]


def position_log_probs(model: Model, positions: Positions) -> torch.Tensor:
    """(N, V) float64: log p(every token | context) at each position, each distinct context given to the model once."""
    size = model.vocab.size
    contexts, context_ids = distinct_contexts(positions, model.context_length, size)
    first = first_positions(context_ids, contexts)
    chunk = max(CHUNK_ENTRIES // max(size, model.context_length), 1)
    log_p = torch.empty(contexts, size, dtype=torch.float64)
    for start in range(0, contexts, chunk):
        taken = torch.arange(start, min(start + chunk, contexts))
        log_p[taken] = model.log_probs(positions.contexts(model.context_length, first[taken])).double()
    return log_p[context_ids.long()]


def word_log_likelihoods(model: Model, positions: Positions) -> tuple[torch.Tensor, torch.Tensor]:
    """(W,) float64: the log-likelihood of each word (the sum of log p over its characters and its end), and (W,)
    how many tokens it predicts."""
    word = (positions.offsets == 0).cumsum(0) - 1  # each position's word
    words = int(word[-1]) + 1 if len(positions) else 0
    totals = torch.zeros(words, dtype=torch.float64).index_add_(
        0, word, position_log_likelihoods(model, positions)
    )
    return totals, torch.bincount(word, minlength=words)


def pair_log_likelihoods(
    model: Model, positions: Positions
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each distinct (context, token) pair of the positions: (P,) its count and (P,) float64 log p, and (N,) the
    pair of each position.

    Each pair is given to the model once, in chunks: the same sums as position by position, at the cost of the
    distinct pairs.
    """
    size = model.vocab.size
    contexts, context_ids = distinct_contexts(positions, model.context_length, size)
    pairs, pair_of_position, pair_counts = numbered(
        combined(context_ids, size, positions.targets, contexts), contexts * size
    )
    first = first_positions(context_ids, contexts)
    # a chunk holds whole words' prefixes: a net reads each word once
    in_text_order = first[pairs // size].argsort(stable=True)
    chunk = max(CHUNK_ENTRIES // max(size, model.context_length), 1)
    log_p = torch.empty(len(pairs), dtype=torch.float64)
    for start in range(0, len(pairs), chunk):
        taken = in_text_order[start : start + chunk]
        codes = pairs[taken]
        contexts_taken = positions.contexts(model.context_length, first[codes // size])
        log_p[taken] = model.log_probs_of(contexts_taken, codes % size).double()
    return pair_counts, log_p, pair_of_position


def first_positions(context_ids: torch.Tensor, contexts: int) -> torch.Tensor:
    """(contexts,) the first position where each of the numbered contexts occurs, from (N,) each position's number."""
    return torch.full((contexts,), len(context_ids)).scatter_reduce(
        0, context_ids.long(), torch.arange(len(context_ids)), "amin"
    )


def split_log_likelihood(model: Model, split: Split) -> tuple[float, int, int]:
    """total_log_likelihood of a split a block of words at a time, and how many positions it has."""
    total, zeros, positions = 0.0, 0, 0
    for block in split.chunks():
        block_total, block_zeros = total_log_likelihood(model, block)
        total, zeros, positions = total + block_total, zeros + block_zeros, positions + len(block)
    return total, zeros, positions
