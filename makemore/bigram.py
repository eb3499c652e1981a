"""The lecture's bigram tensors: the V x V counts of the train split, and their row-normalised probabilities.

The models do not need them (every family fits from the words, makemore/models/); the lecture's grids do.
"""

from typing import TYPE_CHECKING

import torch

from makemore.vocab import Vocabulary

if (
    TYPE_CHECKING
):  # not imported: the bigrams stage, which needs none of the families, would depend on them all
    from makemore.models.base import Model

CHUNK_BIGRAMS = 4_000_000  # bigrams counted at once


def count_bigrams(vocab: Vocabulary, words: list[str]) -> torch.Tensor:
    """N[a, b] = how many times index b follows index a in `.w1.w2. ... .wn.`.

    Counted CHUNK_BIGRAMS pairs at a time, so the int64 pair codes a * V + b stay small.
    """
    ids, size = vocab.encode(words), vocab.size
    counts = torch.zeros(size * size, dtype=torch.long)
    for start in range(0, len(ids) - 1, CHUNK_BIGRAMS):
        chunk = ids[start : start + CHUNK_BIGRAMS + 1]
        counts += torch.bincount(chunk[:-1] * size + chunk[1:], minlength=size * size)
    return counts.view(size, size)


def row_normalised(counts: torch.Tensor) -> torch.Tensor:
    """P[a, b] = N[a, b] / sum_c N[a, c], the maximum-likelihood bigram model; a row never seen is uniform."""
    counts = counts.double()
    totals = counts.sum(1, keepdim=True)
    return torch.where(totals > 0, counts / totals.clamp(min=1), 1.0 / counts.shape[1]).float()


def bigram_table(model: "Model") -> torch.Tensor:
    """P[a, b] of a model that reads one token of context, through the model interface."""
    return model.log_probs(torch.arange(model.vocab.size).unsqueeze(1)).exp().float()
