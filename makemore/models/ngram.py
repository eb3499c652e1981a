"""n-gram count models: the lecture's smoothed counts for any context length, and Kneser-Ney smoothing.

Every smoothing here has one shape. Level L holds the contexts of length L seen in training; after a
seen context h of length L,

    p_L(w | h) = weight(h, w) + backoff(h) * p_below(w | h'),

where h' is h without its oldest token and p_below is the level below (the uniform 1/V below level 0).
After a context training never saw, p_L = p_below. Only the n-grams that occur are stored, so memory
grows with the distinct n-grams of the train split, never with V ** order.

- additive k (the lecture's): only the top level, weight = c(h, w) / (c(h) + kV), backoff = kV / (c(h) + kV),
  and the level below is uniform: that is (c(h, w) + k) / (c(h) + kV).
- interpolated Kneser-Ney, modified (Chen and Goodman 1999): every level, weight = max(c(h, w) - D(c), 0) / c(h),
  backoff = the mass the discounts took, sum of D(c(h, w)) over w / c(h). Three discounts per level, for counts
  of 1, 2 and 3 or more, from the level's counts of counts n1..n4 unless given. Below the top level, c counts
  the distinct tokens seen before the n-gram (its continuation count) instead of its occurrences. At the start
  of a word that token is padding, so every n-gram there counts 1: tried here, giving those n-grams their
  raw counts instead (as KenLM does for <s>) made the order-6 model worse on val, 2.032 against 2.007.
"""

from typing import Literal

import torch
from pydantic import Field, StrictInt, model_validator

from makemore import ParamError
from makemore.models.contexts import ContextIndex, combined, numbered
from makemore.models.counting import NGramCounts
from makemore.models.interface import FamilyConfig, FitData, Model, Training
from makemore.models.scoring import split_log_likelihood
from makemore.vocab import Vocabulary

MAX_ORDER = 10
CHUNK_NGRAMS = 1 << 20  # n-grams whose probabilities are computed at once


class NGramConfig(FamilyConfig):
    family: Literal["ngram"]
    order: StrictInt = Field(ge=1, le=MAX_ORDER)  # tokens per n-gram: the context is order - 1 tokens
    smoothing: Literal["additive", "kneser_ney"]
    k: float | None = Field(default=None, ge=0)  # additive: added to every count (0 = maximum likelihood)
    # kneser_ney's discounts D1, D2 and D3+ (null: estimated from the counts of counts)
    discounts: list[float] | None = Field(default=None, min_length=3, max_length=3)

    @model_validator(mode="after")
    def smoothing_params(self) -> "NGramConfig":
        if self.smoothing == "additive" and self.k is None:
            raise ValueError("additive smoothing needs k (0 = maximum likelihood)")
        if self.smoothing == "kneser_ney" and self.k is not None:
            raise ValueError("k is for additive smoothing; kneser_ney takes discounts")
        if self.smoothing == "additive" and self.discounts is not None:
            raise ValueError("discounts are for kneser_ney smoothing; additive takes k")
        for count, discount in enumerate(self.discounts or [], start=1):  # D3+ discounts counts of 3 or more
            if not 0 < discount < count:
                raise ValueError(
                    f"discounts = {self.discounts}: D{count}{'+' * (count == 3)} = {discount:g} must be between 0 and {count}, a part of a count of {count}"
                )
        return self


class NGram(Model):
    Config = NGramConfig

    def __init__(
        self,
        config: NGramConfig,
        vocab: Vocabulary,
        index: ContextIndex,
        levels: dict[int, dict[str, torch.Tensor]],
    ):
        super().__init__(config, vocab)
        self.index = index
        # context length -> its "ngrams" (context id * V + token, sorted), "weights", "backoffs"
        self.levels = levels

    @property
    def context_length(self) -> int:
        return self.config.order - 1

    @classmethod
    def fit(cls, config: NGramConfig, data: FitData) -> Training:
        # the counts are freed before val is scored
        model, summary, train_nll, optimum = cls.counted(config, data)
        log_likelihood, _, val_positions = split_log_likelihood(model, data.val)
        val_nll = -log_likelihood / val_positions
        return Training(
            model,
            curve=[{"step": 0, "train": train_nll, "val": val_nll, "optimum": optimum}],
            summary=summary,
        )

    @classmethod
    def counted(cls, config: NGramConfig, data: FitData) -> tuple["NGram", dict, float, float]:
        """The model of the train split's counts, its summary, its train NLL and that of maximum likelihood."""
        vocab, size = data.vocab, data.vocab.size
        # the distinct n-grams of the top order, counted a block of words at a time: each position's n-grams of the
        # lower orders are its suffixes, so they are counted among these, each as often as the n-grams it ends
        counted = NGramCounts.of(data.train, config.order, size)
        keys, ngrams, counts = [], [], []
        for level_keys, ids in ContextIndex.levels(counted, config.order - 1, size):
            if level_keys is not None:
                keys.append(level_keys)
            contexts = len(keys[-1]) if keys else 1
            level_ngrams, inverse, _ = numbered(
                combined(ids, size, counted.targets, contexts), contexts * size
            )
            ngrams.append(level_ngrams)
            counts.append(
                torch.zeros(len(level_ngrams), dtype=torch.long).index_add_(0, inverse.long(), counted.counts)
            )
        index = ContextIndex(keys, size)
        if config.smoothing == "additive":
            top = len(ngrams) - 1
            levels = {top: additive(ngrams[top], counts[top], index.count, size, config.k)}
            summary = {}
        else:
            levels, discounts = kneser_ney(index, ngrams, counts, size, config.discounts)
            summary = {"discounts": discounts}
        model = cls(config, vocab, index, levels)
        summary = {"ngrams_stored": sum(len(level["ngrams"]) for level in levels.values()), **summary}
        # Counting is a single step: the curve is one point, with the maximum-likelihood model's train NLL as the
        # optimum. The train NLL is summed over the distinct train n-grams, each seen, not over every position.
        top_counts = counts[-1].double()
        context_totals = torch.bincount(ngrams[-1] // size, weights=top_counts)[ngrams[-1] // size]
        optimum = -(top_counts * (top_counts / context_totals).log()).sum().item() / counted.positions
        train_log_likelihood = 0.0
        for at in range(0, len(top_counts), CHUNK_NGRAMS):  # a chunk at a time: each holds a tensor per level
            chunk = slice(at, at + CHUNK_NGRAMS)
            train_log_likelihood += (
                (top_counts[chunk] * model.seen_ngram_log_probs(ngrams[-1][chunk])).sum().item()
            )
        return model, summary, -train_log_likelihood / counted.positions, optimum

    def seen_ngram_log_probs(self, ngrams: torch.Tensor) -> torch.Tensor:
        """log p(w | h) of n-grams of the top order whose context training saw, given as context id * V + w."""
        size = self.vocab.size
        # each context's id at every length, from the top down: its suffix is its key // V
        ids = [ngrams // size]
        for keys in reversed(self.index.keys):
            ids.insert(0, keys[ids[0]] // size)
        return self.log_probs_at(ids, ngrams % size)

    def log_probs_of(self, contexts: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return self.log_probs_at(self.index.lookup(contexts), tokens.long())

    def log_probs_at(self, ids: list[torch.Tensor], tokens: torch.Tensor) -> torch.Tensor:
        """log p(token | context) from the context's id at every length (-1: never seen), level by level."""
        size = self.vocab.size
        probs = torch.full((len(tokens),), 1.0 / size, dtype=torch.float64)
        for length, level in sorted(self.levels.items()):
            rows = ids[length].clamp(min=0)
            codes = rows * size + tokens
            found = torch.searchsorted(level["ngrams"], codes).clamp(max=len(level["ngrams"]) - 1)
            weights = torch.where(level["ngrams"][found] == codes, level["weights"][found], 0.0)
            probs = torch.where(ids[length] >= 0, weights + level["backoffs"][rows] * probs, probs)
        return probs.log()

    def log_probs(self, contexts: torch.Tensor) -> torch.Tensor:
        size = self.vocab.size
        # every context, every token
        ids = [level_ids.repeat_interleave(size) for level_ids in self.index.lookup(contexts)]
        return self.log_probs_at(ids, torch.arange(size).repeat(len(contexts))).view(len(contexts), size)

    def tensors(self) -> dict[str, torch.Tensor]:
        tensors = self.index.tensors()
        for length, level in self.levels.items():
            tensors |= {f"{name}.{length}": values for name, values in level.items()}
        return tensors

    @classmethod
    def from_tensors(
        cls, config: NGramConfig, vocab: Vocabulary, tensors: dict[str, torch.Tensor]
    ) -> "NGram":
        index = ContextIndex.from_tensors(tensors, config.order - 1, vocab.size)
        used = [config.order - 1] if config.smoothing == "additive" else range(config.order)
        levels = {
            length: {name: tensors[f"{name}.{length}"] for name in ("ngrams", "weights", "backoffs")}
            for length in used
        }
        for length, level in levels.items():
            contexts = len(index.keys[length - 1]) if length else 1
            ngrams, weights, backoffs = level["ngrams"], level["weights"], level["backoffs"]
            if (
                ngrams.dtype != torch.int64
                or ngrams.dim() != 1
                or not len(ngrams)
                or (ngrams.diff() <= 0).any()
            ):
                raise ValueError("n-grams must be a non-empty, sorted, distinct 1-D int64 tensor")
            if (
                ngrams[0] < 0
                or ngrams[-1] >= contexts * vocab.size
                or weights.shape != ngrams.shape
                or backoffs.shape != (contexts,)
            ):
                raise ValueError("n-grams, weights and backoffs do not fit the contexts")
            if weights.dtype != torch.float64 or backoffs.dtype != torch.float64:
                raise ValueError("weights and backoffs must be float64")
        return cls(config, vocab, index, levels)


def additive(
    ngrams: torch.Tensor, counts: torch.Tensor, contexts: int, size: int, k: float
) -> dict[str, torch.Tensor]:
    totals = torch.bincount(ngrams // size, weights=counts.double(), minlength=contexts)
    if not torch.isfinite(totals + k * size).all():
        raise ParamError(f"k = {k:g} is too large: c(h) + k * V overflows")
    return {
        "ngrams": ngrams,
        "weights": counts.double() / (totals[ngrams // size] + k * size),
        "backoffs": k * size / (totals + k * size),
    }


def kneser_ney(
    index: ContextIndex,
    ngrams: list[torch.Tensor],
    counts: list[torch.Tensor],
    size: int,
    discounts: list[float] | None,
) -> tuple[dict[int, dict[str, torch.Tensor]], list[list[float]]]:
    """Every level of interpolated modified Kneser-Ney, and the discounts D1, D2, D3+ used at each (lowest level first)."""
    levels, used = {}, []
    top = len(ngrams) - 1
    for length in range(top, -1, -1):
        level_ngrams = ngrams[length]
        context_ids = level_ngrams // size
        adjusted = counts[length]
        if length < top:
            adjusted = continuation_counts(level_ngrams, ngrams[length + 1], index.keys[length], size)
        level_discounts = torch.tensor(
            discounts if discounts is not None else estimated_discounts(adjusted), dtype=torch.float64
        )
        taken = level_discounts[(adjusted.clamp(max=3) - 1)].clamp(max=adjusted.double())
        totals = torch.bincount(context_ids, weights=adjusted.double())
        levels[length] = {
            "ngrams": level_ngrams,
            "weights": (adjusted - taken) / totals[context_ids],
            "backoffs": torch.bincount(context_ids, weights=taken, minlength=len(totals)) / totals,
        }
        used.append([round(d, 6) for d in level_discounts.tolist()])
    return levels, used[::-1]


def continuation_counts(
    ngrams: torch.Tensor, longer: torch.Tensor, longer_context_keys: torch.Tensor, size: int
) -> torch.Tensor:
    """For each n-gram, the number of distinct (n+1)-grams that end in it: the tokens seen before it."""
    suffixes = longer_context_keys[longer // size] // size * size + longer % size  # drop the oldest token
    return torch.bincount(torch.searchsorted(ngrams, suffixes), minlength=len(ngrams))


def estimated_discounts(counts: torch.Tensor) -> list[float]:
    """Chen and Goodman's D1, D2, D3+ from the counts of counts n1..n4, each kept within (0, its count)."""
    n1, n2, n3, n4 = (int((counts == c).sum()) for c in (1, 2, 3, 4))
    if not (n1 and n2 and n3 and n4):
        return [0.5, 1.0, 1.5]  # too few n-grams to estimate from: a middle value of each range
    y = n1 / (n1 + 2 * n2)
    estimates = [1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3]
    return [min(max(d, 0.01), c - 0.01) for c, d in zip((1, 2, 3), estimates)]
