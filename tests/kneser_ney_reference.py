"""Interpolated modified Kneser-Ney in plain Python, straight from Chen and Goodman (1999), for the tests.

Written from the definitions with tuples and Counters, independently of makemore/models/ngram.py. Words are
padded with order - 1 boundary tokens "<b>" in front and one behind, and below the top order every n-gram
counts the distinct tokens before it in those padded words (its continuation count).
"""

import math
from collections import Counter, defaultdict

B = "<b>"


def ngram_counts(words: list[str], order: int) -> list[Counter]:
    """counts[L][(context, token)] for contexts of L tokens, L = 0 .. order - 1."""
    counts = [Counter() for _ in range(order)]
    for word in words:
        tokens = [B] * (order - 1) + list(word) + [B]
        for i in range(order - 1, len(tokens)):
            for length in range(order):
                counts[length][(tuple(tokens[i - length : i]), tokens[i])] += 1
    return counts


def discounts_from(counts: Counter) -> tuple[float, float, float]:
    """D1, D2, D3+ from the counts of counts; (0.5, 1, 1.5) when one of n1..n4 is 0; each within [0.01, its count - 0.01]."""
    n = Counter(counts.values())
    if not all(n[c] for c in (1, 2, 3, 4)):
        return 0.5, 1.0, 1.5
    y = n[1] / (n[1] + 2 * n[2])
    estimates = 1 - 2 * y * n[2] / n[1], 2 - 3 * y * n[3] / n[2], 3 - 4 * y * n[4] / n[3]
    return tuple(min(max(d, 0.01), c - 0.01) for c, d in zip((1, 2, 3), estimates))


class KneserNey:
    def __init__(self, words: list[str], order: int, vocabulary: list[str], discounts=None):
        self.order, self.vocabulary = order, vocabulary
        raw = ngram_counts(words, order)
        self.counts = [None] * order
        self.counts[order - 1] = raw[order - 1]
        for length in range(order - 1):
            preceding = Counter((context[1:], token) for context, token in raw[length + 1])
            self.counts[length] = Counter(
                {(context, token): preceding[(context, token)] for (context, token), n in raw[length].items()}
            )
        self.discounts = [discounts or discounts_from(c) for c in self.counts]
        self.totals = [defaultdict(int) for _ in range(order)]
        self.taken = [defaultdict(float) for _ in range(order)]
        for length, level in enumerate(self.counts):
            for (context, _token), n in level.items():
                self.totals[length][context] += n
                self.taken[length][context] += min(self.discount(length, n), n)

    def discount(self, length: int, n: int) -> float:
        return self.discounts[length][min(n, 3) - 1]

    def prob(self, context: tuple, token: str) -> float:
        """p(token | the last order - 1 tokens of `context`)."""
        p = 1 / len(self.vocabulary)
        for length in range(self.order):
            ctx = tuple(context[len(context) - length :]) if length else ()
            total = self.totals[length].get(ctx, 0)
            if total == 0:
                continue
            n = self.counts[length].get((ctx, token), 0)
            p = (
                max(n - self.discount(length, n), 0) / total + self.taken[length][ctx] / total * p
                if n
                else self.taken[length][ctx] / total * p
            )
        return p

    def nll(self, words: list[str]) -> float:
        log_likelihood, tokens = 0.0, 0
        for word in words:
            padded = [B] * (self.order - 1) + list(word) + [B]
            for i in range(self.order - 1, len(padded)):
                log_likelihood += math.log(self.prob(tuple(padded[i - self.order + 1 : i]), padded[i]))
                tokens += 1
        return -log_likelihood / tokens
