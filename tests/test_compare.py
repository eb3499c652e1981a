"""The comparison of every model with the best: each val word's log-likelihood, and the paired bootstrap over words."""

import math

import numpy as np
import pytest
import torch
from helpers import default_words

from makemore import MakemoreError
from makemore.api import Trained
from makemore.compare import compare_models, read_word_scores, write_word_scores
from makemore.models.contexts import Positions
from makemore.models.interface import FitData
from makemore.models.ngram import NGram, NGramConfig
from makemore.models.scoring import total_log_likelihood, word_log_likelihoods
from makemore.params import Compare
from makemore.vocab import Vocabulary


@pytest.mark.parametrize("order", [1, 3])
def test_each_words_log_likelihood_is_the_sum_of_its_tokens_log_p_scored_one_by_one(order):
    words = default_words()[:400]
    vocab = Vocabulary.from_words(words)
    train, val = Positions.of(vocab, words[:300]), Positions.of(vocab, words[300:])
    config = NGramConfig(family="ngram", order=order, smoothing="kneser_ney")
    model = NGram.fit(config, FitData(vocab, train, val, max_len=50)).model
    totals, tokens = word_log_likelihoods(model, val)
    table = Trained("ngram", model, vocab_file=None, sha256="").score(words[300:])  # position by position
    expected = table.groupby("word", sort=False)["log_p"].agg(["sum", "count"])
    assert len(totals) == len(words) - 300
    assert totals.tolist() == pytest.approx(expected.loc[words[300:], "sum"].tolist(), rel=1e-12)
    assert tokens.tolist() == [len(word) + 1 for word in words[300:]]
    assert totals.sum().item() == pytest.approx(total_log_likelihood(model, val)[0], rel=1e-12)


def test_word_scores_are_read_back_exactly(tmp_path):
    log_likelihoods = torch.tensor([-1 / 3, -12.345678901234567, -math.inf], dtype=torch.float64)
    tokens = torch.tensor([2, 5, 7])
    write_word_scores(tmp_path / "scores.tsv", log_likelihoods, tokens)
    read, counts = read_word_scores(tmp_path / "scores.tsv")
    assert read.tolist() == log_likelihoods.tolist() and counts.tolist() == [2, 5, 7]


def synthetic_scores(words: int) -> tuple[np.ndarray, np.ndarray]:
    """Words of 2 to 9 tokens, each token's log p drawn around -2."""
    random = np.random.default_rng(1)
    tokens = random.integers(2, 10, words)
    return np.array([random.normal(-2, 0.8, count).sum() for count in tokens]), tokens


def test_a_copy_of_the_best_ties_and_a_constant_shift_per_token_is_exact_in_every_resample():
    best, tokens = synthetic_scores(500)
    shift = 0.05  # nats per token worse, on every word: every resample's difference is exactly this
    scores = {"best": (best, tokens), "copy": (best.copy(), tokens), "worse": (best - shift * tokens, tokens)}
    compared = compare_models(scores, {name: name for name in scores}, Compare(resamples=200))
    models = compared["models"]
    assert compared["best"] == "best" and models["best"]["verdict"] == "best"
    assert (models["copy"]["low"], models["copy"]["high"], models["copy"]["verdict"]) == (0.0, 0.0, "tie")
    assert models["worse"]["difference"] == models["worse"]["low"] == models["worse"]["high"] == shift
    assert models["worse"]["verdict"] == "worse" and models["worse"]["model_sha256"] == "worse"


def test_the_interval_has_the_width_of_the_ratio_estimators_standard_error():
    # an independent computation: the delta method's standard error of a difference of two ratios of sums
    words = 4000
    best, tokens = synthetic_scores(words)
    noise = np.random.default_rng(2).normal(0, 1.0, words)
    other = best - 0.02 * tokens + noise
    compared = compare_models(
        {"best": (best, tokens), "other": (other, tokens)}, {"best": "", "other": ""}, Compare(resamples=4000)
    )["models"]["other"]
    per_word = (best - other) - compared["difference"] * tokens  # each word's part of the difference, centred
    error = per_word.std() / tokens.mean() / math.sqrt(words)
    assert compared["high"] - compared["low"] == pytest.approx(2 * 1.959964 * error, rel=0.1)
    assert compared["low"] < compared["difference"] < compared["high"]


def test_scores_of_other_words_are_refused_in_one_line():
    best, tokens = synthetic_scores(20)
    with pytest.raises(MakemoreError, match="of different val words: run `dvc repro`"):
        compare_models({"a": (best, tokens), "b": (best[:-1], tokens[:-1])}, {"a": "", "b": ""}, Compare())
