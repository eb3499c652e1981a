"""The log-likelihood of a split under any model, through the model interface: what evaluation reports and
what a family watches on val while it trains."""

import math

import torch

from makemore.contexts import Positions, Split, combined, distinct_contexts, numbered
from makemore.interface import Model

# (contexts x V) log-probabilities, or (contexts x context length) tokens, held at once
CHUNK_ENTRIES = 1 << 22


def total_log_likelihood(model: Model, positions: Positions) -> tuple[float, int]:
    """The sum of log p(token | context) over every position, and how many positions have p = 0.

    Each distinct (context, token) pair is given to the model once, in chunks, and weighed by its count:
    the same sum as position by position, at the cost of the distinct pairs.
    """
    size = model.vocab.size
    contexts, context_ids = distinct_contexts(positions, model.context_length, size)
    pairs, _, pair_counts = numbered(
        combined(context_ids, size, positions.targets, contexts), contexts * size
    )
    first = torch.full((contexts,), len(positions)).scatter_reduce(
        0, context_ids.long(), torch.arange(len(positions)), "amin"
    )
    # a chunk holds whole words' prefixes: a net reads each word once
    in_text_order = first[pairs // size].argsort(stable=True)
    pairs, pair_counts = pairs[in_text_order], pair_counts[in_text_order]
    chunk = max(CHUNK_ENTRIES // max(size, model.context_length), 1)
    total, zeros = 0.0, 0
    for start in range(0, len(pairs), chunk):
        codes, counts = pairs[start : start + chunk], pair_counts[start : start + chunk]
        log_p = model.log_probs_of(
            positions.contexts(model.context_length, first[codes // size]), codes % size
        ).double()
        total += (counts * log_p).sum().item()
        zeros += int(counts[log_p == -math.inf].sum())
    return total, zeros


def split_log_likelihood(model: Model, split: Split) -> tuple[float, int, int]:
    """total_log_likelihood of a split a block of words at a time, and how many positions it has."""
    total, zeros, positions = 0.0, 0, 0
    for block in split.chunks():
        block_total, block_zeros = total_log_likelihood(model, block)
        total, zeros, positions = total + block_total, zeros + block_zeros, positions + len(block)
    return total, zeros, positions
