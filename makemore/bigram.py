"""The lecture's bigram tensors: the V x V counts of the train split, and their row-normalised probabilities.

The models do not need them (every family fits from the words, makemore/models/); the lecture's grids do.
"""

from pathlib import Path

import torch

from makemore import MakemoreError
from makemore.tensorfiles import load_tensors, save_tensors
from makemore.vocab import Vocabulary

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


def save_counts(path: str | Path, counts: torch.Tensor, vocab: Vocabulary) -> None:
    save_tensors(path, {"counts": counts}, vocab.codepoints)


def load_counts(path: str | Path, vocab: Vocabulary) -> torch.Tensor:
    """The V x V bigram counts of the train split."""
    counts = load_tensors(path, vocab.codepoints).get("counts")
    if not (
        isinstance(counts, torch.Tensor)
        and counts.dtype == torch.int64
        and counts.shape == (vocab.size, vocab.size)
        and (counts >= 0).all()
    ):
        raise MakemoreError(f"{path}: not a {vocab.size}x{vocab.size} table of counts (corrupt)")
    return counts
