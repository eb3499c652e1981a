"""Sampling from any model through the interface: seeded, following the model, with temperature and top-k."""

from collections import Counter

import pytest
import torch

from makemore.models.contexts import Positions
from makemore.models.interface import FitData
from makemore.models.ngram import NGram, NGramConfig
from makemore.sampling import BATCH_WORDS, generate, length_distribution, novelty, sampling_weights
from makemore.vocab import Vocabulary


def counted(words: list[str], order: int = 2, k: float = 0):
    """The n-gram model of `words` with additive k (k 0: their exact frequencies), and its vocabulary."""
    vocab = Vocabulary.from_words(words)
    positions = Positions.of(vocab, words)
    config = NGramConfig(family="ngram", order=order, smoothing="additive", k=k)
    return NGram.fit(config, FitData(vocab, positions, positions, max_len=50)).model, vocab


def test_a_sampled_word_has_a_character_and_its_first_follows_the_model_given_one():
    # k = 1 on three words starting with a, V = 4: from the start, a (3 + 1) / 7, b, c and the end 1/7 each
    model, vocab = counted(["aa", "ab", "ac"], k=1)
    words = [vocab.decode(ids) for ids in generate(model, 4000, 0, max_len=10)]
    assert min(map(len, words)) >= 1
    firsts = Counter(word[0] for word in words)
    assert firsts["a"] / 4000 == pytest.approx(4 / 6, abs=0.03) and firsts["b"] / 4000 == pytest.approx(
        1 / 6, abs=0.03
    )


def test_sampling_follows_the_model_and_is_seeded():
    model, vocab = counted(["ab"])  # from the boundary always a, then always b, then always the boundary
    assert [vocab.decode(ids) for ids in generate(model, 5, 0, max_len=10)] == ["ab"] * 5
    model, vocab = counted(["emma", "ava", "olivia", "mia", "amelia", "isabella"], order=3, k=0.1)
    first = list(generate(model, 50, 3, max_len=20))
    assert list(generate(model, 50, 3, max_len=20)) == first
    assert list(generate(model, 50, 4, max_len=20)) != first
    # a seed's first words are the same however many are drawn, across batches too
    assert list(generate(model, BATCH_WORDS + 30, 3, max_len=20))[:50] == first


def test_sampled_first_characters_follow_the_model():
    model, vocab = counted(["a"] * 20 + ["b"] * 80)
    firsts = Counter(vocab.decode(ids)[0] for ids in generate(model, 4000, 0, max_len=5))
    assert firsts["b"] / 4000 == pytest.approx(0.8, abs=0.03)


def test_a_word_that_never_ends_is_cut_at_max_len():
    model, vocab = counted(["a" * 60])  # a follows a 59 times in 60: the most likely next token is always a
    assert [vocab.decode(ids) for ids in generate(model, 3, 0, max_len=7, top_k=1)] == ["a" * 7] * 3


def test_temperature_is_a_power_of_the_probabilities_and_top_k_keeps_the_k_most_likely():
    probs = torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.25, 0.25], [0.0, 0.0, 0.5, 0.5]])
    for temperature in (0.5, 2.0):
        weights = sampling_weights(probs, temperature)
        expected = probs ** (1 / temperature)
        torch.testing.assert_close(
            weights / weights.sum(1, keepdim=True), expected / expected.sum(1, keepdim=True)
        )
    cold = sampling_weights(probs, 1e-4)
    # only the most likely token survives, nothing underflows to all 0
    assert cold[0].tolist() == [0.0, 0.0, 0.0, 1.0]
    top2 = sampling_weights(probs, top_k=2)
    assert (top2[0] > 0).tolist() == [False, False, True, True]
    assert torch.equal(sampling_weights(probs, top_k=10), probs)  # k beyond the vocabulary keeps everything


def test_top_k_1_and_a_cold_temperature_sample_the_greedy_word():
    model, vocab = counted(["ab"] * 6 + ["ba"] * 4 + ["abb"] * 2)  # greedy: a (8 of 12), then b, then the end
    for kwargs in ({"top_k": 1}, {"temperature": 0.01}):
        assert [vocab.decode(ids) for ids in generate(model, 20, 0, max_len=10, **kwargs)] == ["ab"] * 20


def test_novelty_shares():
    shares = novelty(["emma", "zed", "ava", "qqq"], train={"emma", "ava"}, heldout={"zed", "emma"})
    assert shares == {"in_train": 0.5, "in_val_or_test": 0.25, "new": 0.25, "mean_length": 3.25}


def test_length_distribution_shares_per_length():
    table = length_distribution(["", "ab", "ab", "abcd"], ["abc", "ab"])
    assert table == "length,sampled,train\n0,0.25,0.0\n1,0.0,0.0\n2,0.5,0.5\n3,0.0,0.5\n4,0.25,0.0\n"
