"""The vocabulary, the encoding of words, the split, and the contexts of each predicted position."""

import hashlib

import pytest
import torch
from helpers import default_words

from makemore import MakemoreError
from makemore.bigram import count_bigrams, row_normalised
from makemore.models.contexts import ContextIndex, Positions, distinct_contexts, numbered
from makemore.splits import split_words
from makemore.vocab import Vocabulary


def bigrams(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return ids[:-1], ids[1:]


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
    counts = count_bigrams(vocab, words)
    stoi = {c: i for i, c in enumerate(vocab.labels)}
    expected = torch.zeros((vocab.size, vocab.size), dtype=torch.int64)
    for word in words:
        chars = [".", *word, "."]
        for a, b in zip(chars, chars[1:]):
            expected[stoi[a], stoi[b]] += 1
    assert torch.equal(counts, expected)
    probs = row_normalised(counts)
    assert torch.allclose(probs[stoi["e"]], expected[stoi["e"]] / expected[stoi["e"]].sum())


def hashed_splits(words: list[str], fractions: dict[str, float], seed: int) -> dict[str, list[str]]:
    """The splits by Python's hashlib, as the docs of Splits say: the distinct words ordered by u, the top 53 bits
    of MD5("SEED:WORD") (read little-endian, as DuckDB's md5_number) over 2^53, then by word; cut into parts of the
    fractions, rounded down, the rest to the first."""
    hashed = {
        w: (int.from_bytes(hashlib.md5(f"{seed}:{w}".encode()).digest(), "little") >> 75) / 2**53
        for w in words
    }
    ordered = sorted(hashed, key=lambda w: (hashed[w], w))
    sizes = [int(len(ordered) * fraction) for fraction in fractions.values()]
    sizes[0] += len(ordered) - sum(sizes)
    cuts = [0, sizes[0], sizes[0] + sizes[1], len(ordered)]
    return {name: ordered[cuts[at] : cuts[at + 1]] for at, name in enumerate(fractions)}


def test_split_is_the_words_shuffled_by_a_seeded_hash_and_cut(names):
    fractions = {"train": 0.8, "val": 0.1, "test": 0.1}
    splits = split_words(names, fractions, seed=1)
    assert splits == hashed_splits(names, fractions, seed=1)
    assert sorted(sum(splits.values(), [])) == sorted(names)
    assert [len(s) for s in splits.values()] == [23928, 2991, 2991]
    assert split_words(names, fractions, seed=2)["val"] != splits["val"]


def test_a_split_left_empty_names_the_param():
    with pytest.raises(
        MakemoreError, match=r"split.val = 0.1 leaves the val split empty with 5 distinct words"
    ):
        split_words(["a", "b", "c", "d", "e"], {"train": 0.8, "val": 0.1, "test": 0.1}, seed=0)


@pytest.mark.parametrize("bound", [10, 1000, 10**9])
def test_numbered_is_torch_unique_whichever_way_it_counts(bound):
    keys = torch.randint(0, min(bound, 5000), (3000,), generator=torch.Generator().manual_seed(bound))
    for got, expected in zip(
        numbered(keys, bound), torch.unique(keys, return_inverse=True, return_counts=True)
    ):
        assert torch.equal(got, expected)


def test_chunked_encoding_and_counting_equal_one_pass(names, monkeypatch):
    words = names[:1000]
    vocab = Vocabulary.from_words(words)
    whole = vocab.encode(words)
    counts = count_bigrams(vocab, words)
    monkeypatch.setattr("makemore.vocab.CHUNK_WORDS", 7)  # 143 chunks, the last one short
    monkeypatch.setattr("makemore.bigram.CHUNK_BIGRAMS", 10)
    chunked = vocab.encode(words, torch.uint8)
    assert chunked.dtype == torch.uint8 and torch.equal(chunked.long(), whole)
    assert torch.equal(count_bigrams(vocab, words), counts)
    assert vocab.encode([]).tolist() == [0]


def test_contexts_are_padded_with_the_boundary_before_each_word():
    vocab = Vocabulary.from_words(["emma", "ava"])
    positions = Positions.of(vocab, ["emma", "ava"])
    contexts = positions.contexts(3, torch.arange(len(positions)))
    shown = [
        "".join(vocab.labels[i] for i in row) + ">" + vocab.labels[t]
        for row, t in zip(contexts.tolist(), positions.targets.tolist())
    ]
    assert shown == ["...>e", "..e>m", ".em>m", "emm>a", "mma>.", "...>a", "..a>v", ".av>a", "ava>."]
    assert positions.contexts(0, torch.arange(2)).shape == (2, 0)


def test_distinct_contexts_numbers_equal_contexts_alike_and_different_ones_apart(names):
    vocab = Vocabulary.from_words(names)
    positions = Positions.of(vocab, [*names[:300], "ab" * 60])  # and a word far longer than the others
    for length in (0, 1, 3, 50, 200):
        count, ids = distinct_contexts(positions, length, vocab.size)
        rows = [tuple(row) for row in positions.contexts(length, torch.arange(len(positions))).tolist()]
        # one number per context, and as many numbers as contexts: a bijection
        pairs = set(zip(rows, ids.tolist()))
        assert len(pairs) == len(set(rows)) == len(set(ids.tolist())) == count
        assert set(ids.tolist()) == set(range(count))


def test_the_context_index_finds_every_seen_context_and_only_those(names):
    vocab = Vocabulary.from_words(names)
    train, other = Positions.of(vocab, names[:2000]), Positions.of(vocab, names[2000:3000])
    for length in (1, 3, 5):
        index, ids = ContextIndex.build(train, length, vocab.size)
        seen = {tuple(row) for row in train.contexts(length, torch.arange(len(train))).tolist()}
        assert len(index.keys[-1]) == len(seen)
        rows = other.contexts(length, torch.arange(len(other)))
        found = index.lookup(rows)[-1]
        assert [(i >= 0) for i in found.tolist()] == [tuple(row) in seen for row in rows.tolist()]
        # the ids of the train positions are what the lookup of their own contexts gives
        assert torch.equal(index.lookup(train.contexts(length, torch.arange(len(train))))[-1], ids)
