import math
from collections import Counter

import pytest
import torch

from helpers import default_words, mle_train_nll
from makemore import MakemoreError
from makemore.bigram import (
    Vocabulary,
    bigrams,
    count_bigrams,
    count_model,
    data_loss,
    length_distribution,
    nll,
    novelty,
    sample,
    sampling_weights,
    score,
    split_words,
    train_nn,
)


@pytest.fixture(scope="module")
def names() -> list[str]:
    return default_words()


def test_vocabulary_puts_the_boundary_at_zero_then_sorted_characters():
    vocab = Vocabulary.from_words(["emma", "ava", "zoe"])
    assert vocab.labels == [".", "a", "e", "m", "o", "v", "z"]
    assert vocab.size == 7


def test_emma_gives_the_five_lecture_bigrams():
    vocab = Vocabulary.from_words(["emma"])  # . a e m
    xs, ys = bigrams(vocab.encode(["emma"]))
    pairs = ["".join(vocab.labels[i] for i in pair) for pair in zip(xs.tolist(), ys.tolist())]
    assert pairs == [".e", "em", "mm", "ma", "a."]


def test_encoding_several_words_gives_exactly_each_words_bigrams():
    words = ["emma", "ava", "x", "olivia"]
    vocab = Vocabulary.from_words(words)
    xs, ys = bigrams(vocab.encode(words))
    expected = []
    for word in words:
        chars = [".", *word, "."]
        expected += [a + b for a, b in zip(chars, chars[1:])]
    assert ["".join(vocab.labels[i] for i in p) for p in zip(xs.tolist(), ys.tolist())] == expected


def test_a_boundary_character_in_the_data_cannot_collide_with_the_boundary_token():
    words = ["st.john", "a.b"]
    vocab = Vocabulary.from_words(words)
    assert "." in vocab.chars and vocab.boundary not in vocab.chars
    ids = vocab.encode(words)
    dot = vocab.chars.index(".") + 1
    assert (ids == 0).sum().item() == len(words) + 1  # one boundary between and around the words
    assert (ids == dot).sum().item() == 2
    assert vocab.decode(ids[1:8].tolist()) == "st.john"


def test_encode_decode_round_trips_any_unicode():
    words = ["zoë", "josé", "björk", "ナオミ", "😀x", "a b"]
    vocab = Vocabulary.from_words(words)
    ids = vocab.encode(words)
    decoded = "".join(vocab.labels[i] if i else "\n" for i in ids.tolist()).strip("\n").split("\n")
    assert decoded == words


def test_a_character_outside_the_vocabulary_is_named():
    with pytest.raises(MakemoreError, match="'q' is not in the vocabulary"):
        Vocabulary.from_words(["abc"]).encode(["aqb"])


def test_counts_equal_a_python_loop_over_the_real_names(names):
    words = names[:3000]
    vocab = Vocabulary.from_words(words)
    counts = count_bigrams(*bigrams(vocab.encode(words)), vocab.size)
    stoi = {c: i for i, c in enumerate(vocab.labels)}
    expected = torch.zeros((vocab.size, vocab.size), dtype=torch.int64)
    for word in words:
        chars = [".", *word, "."]
        for a, b in zip(chars, chars[1:]):
            expected[stoi[a], stoi[b]] += 1
    assert torch.equal(counts, expected)


def test_split_is_a_seeded_partition_with_the_requested_sizes(names):
    fractions = {"train": 0.8, "val": 0.1, "test": 0.1}
    splits = split_words(names, fractions, seed=1)
    assert sorted(sum(splits.values(), [])) == sorted(names)
    assert [len(s) for s in splits.values()] == [23928, 2991, 2991]
    assert split_words(names, fractions, seed=1) == splits
    assert split_words(names, fractions, seed=2)["val"] != splits["val"]


def test_a_split_left_empty_names_the_param():
    with pytest.raises(MakemoreError, match=r"split.val = 0.1 leaves the val split empty with 5 words"):
        split_words(["a", "b", "c", "d", "e"], {"train": 0.8, "val": 0.1, "test": 0.1}, seed=0)


def test_count_model_rows_are_smoothed_distributions():
    counts = torch.tensor([[0, 3, 1], [0, 0, 0], [2, 2, 0]])
    probs = count_model(counts, smoothing=1)
    assert torch.allclose(probs[0], torch.tensor([1 / 7, 4 / 7, 2 / 7]))
    assert torch.allclose(probs.sum(1), torch.ones(3))
    # No counts and no smoothing: the uniform row, the smoothing -> 0 limit, not 0/0.
    assert torch.allclose(count_model(counts, smoothing=0)[1], torch.full((3,), 1 / 3))


def test_count_nll_with_smoothing_0_is_the_maximum_likelihood_of_the_real_names(names):
    vocab = Vocabulary.from_words(names)
    counts = count_bigrams(*bigrams(vocab.encode(names)), vocab.size)
    assert nll(count_model(counts, smoothing=0), counts) == pytest.approx(mle_train_nll(names), abs=1e-6)
    assert nll(count_model(counts, smoothing=1), counts) > nll(count_model(counts, smoothing=0), counts)


def test_score_of_a_uniform_model_is_log_v_and_zero_probabilities_give_inf():
    counts = torch.tensor([[1, 2], [3, 0]])
    uniform = score(torch.full((2, 2), 0.5), counts)
    assert uniform["nll"] == pytest.approx(math.log(2), abs=1e-6)
    assert uniform["perplexity"] == pytest.approx(2.0)
    assert uniform["bigrams"] == 6 and uniform["zero_probability_bigrams"] == 0
    never_10 = score(torch.tensor([[0.5, 0.5], [0.0, 1.0]]), counts)
    assert never_10 == {"nll": "inf", "perplexity": "inf", "bigrams": 6, "zero_probability_bigrams": 3}


def test_count_gradient_equals_the_lectures_one_hot_gradient_on_real_names(names):
    words = names[:2000]
    vocab = Vocabulary.from_words(words)
    xs, ys = bigrams(vocab.encode(words))
    W = torch.randn((vocab.size, vocab.size), generator=torch.Generator().manual_seed(0), requires_grad=True)

    # The lecture's formulation: one one-hot row per bigram.
    logits = torch.nn.functional.one_hot(xs, vocab.size).float() @ W
    one_hot_loss = -logits.log_softmax(dim=1)[torch.arange(len(xs)), ys].mean()
    (one_hot_grad,) = torch.autograd.grad(one_hot_loss, W)

    counts_loss = data_loss(W, count_bigrams(xs, ys, vocab.size).float())
    (counts_grad,) = torch.autograd.grad(counts_loss, W)

    assert counts_loss.item() == pytest.approx(one_hot_loss.item(), rel=1e-5)
    assert torch.allclose(counts_grad, one_hot_grad, atol=1e-7, rtol=1e-4)


def test_gradient_descent_without_reg_arrives_at_the_count_model(names):
    vocab = Vocabulary.from_words(names)
    counts = count_bigrams(*bigrams(vocab.encode(names)), vocab.size)
    training = train_nn(counts, counts, lr=50, steps=2000, reg=0, seed=2147483647)
    probs = training.W.softmax(dim=1)
    optimum = mle_train_nll(names)
    assert training.curve[0][1] > optimum + 1  # it started far away
    assert nll(probs, counts) - optimum < 0.01
    assert nll(probs, counts) >= optimum - 1e-6  # nothing beats maximum likelihood on its own data
    # Where the data says something, softmax(W) is the count model's P.
    seen = counts.sum(1) >= 1000
    assert (probs[seen] - count_model(counts, smoothing=0)[seen]).abs().max() < 0.01


def test_training_curve_records_train_and_val_nll_and_reg_costs_train_nll(names):
    vocab = Vocabulary.from_words(names)
    counts = count_bigrams(*bigrams(vocab.encode(names[:5000])), vocab.size)
    val_counts = count_bigrams(*bigrams(vocab.encode(names[5000:6000])), vocab.size)
    plain = train_nn(counts, val_counts, lr=50, steps=30, reg=0, seed=1)
    regular = train_nn(counts, val_counts, lr=50, steps=30, reg=1.0, seed=1)
    assert [step for step, _, _ in plain.curve] == list(range(31))
    assert plain.curve[-1][1] < plain.curve[0][1]
    probs = plain.W.softmax(dim=1)
    assert plain.curve[-1][1:] == pytest.approx((nll(probs, counts), nll(probs, val_counts)), abs=1e-5)
    assert regular.W.pow(2).mean() < plain.W.pow(2).mean()
    assert regular.curve[-1][1] > plain.curve[-1][1]


def test_sampling_follows_the_model_and_is_seeded():
    # From the boundary always 'a', then always 'b', then always the boundary: every word is "ab".
    chain = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    assert list(sample(chain, 5, 0, max_len=10)) == [[1, 2]] * 5
    # 'a' forever: the guard cuts every word at max_len.
    loop = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    assert list(sample(loop, 2, 0, max_len=7)) == [[1] * 7] * 2

    probs = count_model(torch.randint(0, 10, (6, 6), generator=torch.Generator().manual_seed(0)), 1)
    first = list(sample(probs, 50, 3, max_len=20))
    assert list(sample(probs, 50, 3, max_len=20)) == first
    assert list(sample(probs, 50, 4, max_len=20)) != first


def test_sampled_first_characters_follow_the_boundary_row():
    probs = torch.tensor([[0.0, 0.2, 0.8], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    firsts = Counter(ids[0] for ids in sample(probs, 4000, 0, max_len=5))
    assert firsts[2] / 4000 == pytest.approx(0.8, abs=0.03)


def test_default_sampling_is_the_lectures_multinomial_draw_bit_for_bit():
    probs = count_model(torch.randint(0, 10, (6, 6), generator=torch.Generator().manual_seed(1)), 0.5)
    generator = torch.Generator().manual_seed(7)
    lecture = []
    for _ in range(40):
        ids, ix = [], 0
        while True:
            ix = torch.multinomial(probs[ix], num_samples=1, replacement=True, generator=generator).item()
            if ix == 0:
                break
            ids.append(ix)
        lecture.append(ids)
    assert list(sample(probs, 40, 7, max_len=1000, temperature=1.0, top_k=None)) == lecture


def test_temperature_is_a_power_of_the_probabilities_and_top_k_keeps_the_k_most_likely():
    probs = torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.25, 0.25], [0.0, 0.0, 0.5, 0.5]])
    for temperature in (0.5, 2.0):
        weights = sampling_weights(probs, temperature)
        expected = probs ** (1 / temperature)
        torch.testing.assert_close(weights / weights.sum(1, keepdim=True), expected / expected.sum(1, keepdim=True))
    cold = sampling_weights(probs, 1e-4)
    assert cold[0].tolist() == [0.0, 0.0, 0.0, 1.0]  # only the most likely token survives, nothing underflows to all 0
    top2 = sampling_weights(probs, top_k=2)
    assert (top2[0] > 0).tolist() == [False, False, True, True]
    assert torch.equal(sampling_weights(probs, top_k=10), probs)  # k beyond the vocabulary keeps everything


def test_top_k_1_and_a_cold_temperature_sample_the_greedy_word():
    probs = torch.tensor([[0.0, 0.6, 0.4], [0.3, 0.1, 0.6], [0.7, 0.2, 0.1]])  # greedy: . -> 1 -> 2 -> .
    for kwargs in ({"top_k": 1}, {"temperature": 0.01}):
        assert list(sample(probs, 20, 0, max_len=10, **kwargs)) == [[1, 2]] * 20


def test_novelty_shares():
    shares = novelty(["emma", "zed", "ava", "qqq"], train={"emma", "ava"}, heldout={"zed", "emma"})
    assert shares == {"in_train": 0.5, "in_val_or_test": 0.25, "new": 0.25, "mean_length": 3.25}


def test_length_distribution_shares_per_length():
    table = length_distribution(["", "ab", "ab", "abcd"], ["abc", "ab"])
    assert table["length"].tolist() == [0, 1, 2, 3, 4]
    assert table["sampled"].tolist() == [0.25, 0.0, 0.5, 0.0, 0.25]
    assert table["train"].tolist() == [0.0, 0.0, 0.5, 0.5, 0.0]


def test_chunked_encoding_and_counting_equal_one_pass(names, monkeypatch):
    words = names[:1000]
    vocab = Vocabulary.from_words(words)
    whole = vocab.encode(words)
    counts = count_bigrams(*bigrams(whole), vocab.size)
    monkeypatch.setattr("makemore.bigram.CHUNK_WORDS", 7)  # 143 chunks, the last one short
    monkeypatch.setattr("makemore.bigram.CHUNK_BIGRAMS", 10)
    chunked = vocab.encode(words, torch.uint8)
    assert chunked.dtype == torch.uint8 and torch.equal(chunked.long(), whole)
    assert torch.equal(count_bigrams(*bigrams(chunked), vocab.size), counts)
    assert vocab.encode([]).tolist() == [0]
