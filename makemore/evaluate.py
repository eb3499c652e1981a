"""The NLL of any model on a split: the mean negative log-likelihood per predicted token, in nats; and the
bigram table of a model that reads one token."""

import math

import torch

from makemore.models.contexts import Split
from makemore.models.interface import Model
from makemore.models.scoring import split_log_likelihood


def score(model: Model, split: Split) -> dict[str, float | int | str]:
    """NLL per token, perplexity and token counts as JSON metrics; an infinite NLL is written as the string "inf"."""
    log_likelihood, zeros, positions = split_log_likelihood(model, split)
    nll = -log_likelihood / positions
    return {
        "nll": round(nll, 6) if math.isfinite(nll) else "inf",
        "perplexity": round(math.exp(nll), 4) if math.isfinite(nll) else "inf",
        "tokens": positions,
        "zero_probability_tokens": zeros,
    }


def bigram_table(model: Model) -> torch.Tensor:
    """P[a, b] of a model that reads one token of context, through the model interface."""
    return model.log_probs(torch.arange(model.vocab.size).unsqueeze(1)).exp().float()
