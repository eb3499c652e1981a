"""Every model against the best on val, with error bars: a paired bootstrap over the val words.

Each resample draws as many val words as there are, with replacement, and measures every model's NLL per token
on the same draw; a model's difference from the best is its NLL minus the best's. The words are the units
resampled, not the tokens, since a word's characters are not independent draws. The interval is the central
`confidence` of the resampled differences (the percentile bootstrap); a difference whose interval holds 0 is a
tie: another draw of the val words could rank the two the other way.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from makemore import MakemoreError
from makemore.artifacts import write_text
from makemore.params import Compare

if TYPE_CHECKING:  # the evaluate stage gives tensors; the compare stage starts without torch
    import torch

HEADER = "log_likelihood\ttokens"


def write_word_scores(path: str | Path, log_likelihoods: torch.Tensor, tokens: torch.Tensor) -> None:
    """One line per word: its log-likelihood (as Python writes a float: read back exactly) and its tokens."""
    lines = (f"{value!r}\t{count}\n" for value, count in zip(log_likelihoods.tolist(), tokens.tolist()))
    write_text(path, HEADER + "\n" + "".join(lines))


def read_word_scores(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """The log-likelihood and tokens of each word of a file `write_word_scores` wrote."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        if lines[0] != HEADER:
            raise ValueError
        rows = [line.split("\t") for line in lines[1:]]
        return np.array([float(a) for a, _ in rows]), np.array([int(b) for _, b in rows])
    except FileNotFoundError:
        raise MakemoreError(f"{path}: no such file: run `dvc repro`") from None
    except (ValueError, IndexError):
        raise MakemoreError(
            f"{path}: not the word scores of an evaluate stage (corrupt): run `dvc repro -f`"
        ) from None


def compare_models(
    scores: dict[str, tuple[np.ndarray, np.ndarray]], measured: dict[str, str], settings: Compare
) -> dict:
    """Each model's val NLL, its difference from the best and that difference's interval, and the sha256 of the model
    file its scores came from (`measured`)."""
    names = list(scores)
    tokens = scores[names[0]][1]
    if any(len(words) != len(tokens) or not np.array_equal(words, tokens) for _, words in scores.values()):
        raise MakemoreError("the models' word scores are of different val words: run `dvc repro`")
    log_likelihoods = np.stack([scores[name][0] for name in names])  # (M, W)
    nlls = -log_likelihoods.sum(1) / tokens.sum()
    best = int(np.argmin(nlls))
    low, high = bootstrap_interval(log_likelihoods, tokens, best, settings)
    models = {}
    for index, name in enumerate(names):
        difference = nlls[index] - nlls[best]
        verdict = "best" if index == best else "tie" if low[index] <= 0 <= high[index] else "worse"
        models[name] = {
            "val_nll": rounded(nlls[index]),
            "difference": rounded(difference),
            "low": rounded(low[index]),
            "high": rounded(high[index]),
            "verdict": verdict,
            "model_sha256": measured[name],
        }
    return {
        "best": names[best],
        "words": len(tokens),
        "resamples": settings.resamples,
        "confidence": settings.confidence,
        "models": models,
    }


def bootstrap_interval(
    log_likelihoods: np.ndarray, tokens: np.ndarray, best: int, settings: Compare
) -> tuple[np.ndarray, np.ndarray]:
    """(M,) low and high ends of each model's difference from the best, over `resamples` draws of the words."""
    random = np.random.default_rng(settings.seed)
    words = len(tokens)
    differences = np.empty((settings.resamples, len(log_likelihoods)))
    with np.errstate(invalid="ignore"):  # a model that rules out a val token: -inf, its difference inf or nan
        for resample in range(settings.resamples):
            drawn = np.bincount(
                random.integers(0, words, words), minlength=words
            )  # (W,) times each word is drawn
            nlls = -(log_likelihoods @ drawn) / (tokens @ drawn)
            differences[resample] = nlls - nlls[best]
    tail = (1 - settings.confidence) / 2
    low, high = np.quantile(differences, [tail, 1 - tail], axis=0)
    infinite = ~np.isfinite(log_likelihoods.sum(1))
    return np.where(infinite, math.inf, low), np.where(infinite, math.inf, high)


def rounded(value: float) -> float | str:
    """As the metrics are written: 6 decimals, or "inf"."""
    return round(float(value), 6) if math.isfinite(value) else "inf"
