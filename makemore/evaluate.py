"""The NLL of any model on a split: the mean negative log-likelihood per predicted token, in nats."""

import math
from typing import TYPE_CHECKING

import torch

from makemore.contexts import ContextIndex, Positions

if TYPE_CHECKING:  # makemore.models imports this module: the n-gram family measures its fit with it
    from makemore.models.base import Model

CHUNK_ENTRIES = 1 << 22  # (contexts x V) log-probabilities held at once


def total_log_likelihood(model: "Model", positions: Positions) -> tuple[float, int]:
    """The sum of log p(token | context) over every position, and how many positions have p = 0.

    Each distinct context is given to the model once, in chunks, and each distinct (context, token) pair
    weighed by its count: the same sum as position by position, at the cost of the distinct contexts.
    """
    size = model.vocab.size
    _, ids = ContextIndex.build(positions, model.context_length, size)
    context_ids = ids[-1]
    pairs, pair_counts = torch.unique(context_ids * size + positions.targets, return_counts=True)
    first = torch.full((int(context_ids.max()) + 1,), len(positions)).scatter_reduce(0, context_ids, torch.arange(len(positions)), "amin")
    chunk = max(CHUNK_ENTRIES // size, 1)
    total, zeros = 0.0, 0
    for start in range(0, len(first), chunk):
        log_probs = model.log_probs(positions.contexts(model.context_length, first[start : start + chunk])).double()
        lo, hi = torch.searchsorted(pairs, torch.tensor([start * size, (start + chunk) * size]))
        log_p = log_probs[pairs[lo:hi] // size - start, pairs[lo:hi] % size]
        total += (pair_counts[lo:hi] * log_p).sum().item()
        zeros += int(pair_counts[lo:hi][log_p == -math.inf].sum())
    return total, zeros


def score(model: "Model", positions: Positions) -> dict[str, float | int | str]:
    """NLL per token, perplexity and token counts as JSON metrics; an infinite NLL is written as the string "inf"."""
    log_likelihood, zeros = total_log_likelihood(model, positions)
    nll = -log_likelihood / len(positions)
    return {
        "nll": round(nll, 6) if math.isfinite(nll) else "inf",
        "perplexity": round(math.exp(nll), 4) if math.isfinite(nll) else "inf",
        "tokens": len(positions),
        "zero_probability_tokens": zeros,
    }
