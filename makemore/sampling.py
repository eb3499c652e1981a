"""Sampling words from any model, and what the samples are like: how many are new, how long they are."""

import math
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from makemore import MakemoreError
from makemore.models.interface import Model
from makemore.vocab import BOUNDARY

# words drawn side by side; a fixed number, so the first words of a seed are the same for any num
BATCH_WORDS = 1000
# constrained sampling: the draws after which a rare constraint is refused, and the most draws it may take
PILOT_DRAWS = 10_000
MAX_DRAWS = 1_000_000


def sampling_weights(probs: torch.Tensor, temperature: float = 1.0, top_k: int | None = None) -> torch.Tensor:
    """Unnormalised next-token weights: `probs` sharpened (temperature < 1) or flattened (> 1), then cut to the
    top k of each row (and any tied with the k-th: smoothed counts have many equal entries).

    p ** (1 / T) is softmax(logits / T) up to normalisation. Dividing each row by its maximum first
    keeps the most likely token at weight 1, so a temperature near 0 picks it instead of underflowing
    every weight to 0. At T = 1 the weights are `probs` itself.
    """
    weights = (
        probs if temperature == 1 else (probs / probs.max(dim=1, keepdim=True).values) ** (1 / temperature)
    )
    if top_k is not None and top_k < probs.shape[1]:
        kth = weights.topk(top_k, dim=1).values[:, -1:]
        weights = torch.where(weights < kth, 0.0, weights)
    return weights


def generate(
    model: Model,
    num: int,
    seed: int,
    max_len: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    prefix: Sequence[int] = (),
) -> Iterator[list[int]]:
    """`num` index sequences, each drawn token by token from the boundary (and then `prefix`, given) until it is
    drawn again, at most `max_len` long. The same seed gives the same words.

    BATCH_WORDS words grow side by side, one `log_probs` call per position; they are yielded one by one
    as each batch ends, so a reader can print them as they come. A word that starts with `prefix` is drawn from
    the model's distribution given it, since the model predicts each token from the ones before it.
    """
    if model.max_word_length is not None and max_len > model.max_word_length:
        raise MakemoreError(
            f"max_len = {max_len} is more than the {model.max_word_length} characters this model reads whole "
            "(data.max_len when it was trained)"
        )
    generator = torch.Generator().manual_seed(seed)
    for start in range(0, num, BATCH_WORDS):
        words, lengths = drawn_batch(model, generator, max_len, temperature, top_k, prefix)
        for row, length in zip(words[: num - start].tolist(), lengths.tolist()):
            yield row[:length]


def drawn_batch(
    model: Model,
    generator: torch.Generator,
    max_len: int,
    temperature: float,
    top_k: int | None,
    prefix: Sequence[int],
) -> tuple[torch.Tensor, torch.Tensor]:
    """BATCH_WORDS words drawn side by side after `prefix`: their tokens (B, max_len) and each one's length (B,)."""
    contexts = torch.full((BATCH_WORDS, model.context_length + max_len), BOUNDARY)
    contexts[:, model.context_length : model.context_length + len(prefix)] = torch.tensor(
        prefix, dtype=torch.long
    )
    lengths = torch.full((BATCH_WORDS,), max_len)
    for position in range(len(prefix), max_len):
        window = contexts[:, position : position + model.context_length]
        probs = model.log_probs(window).double().exp()
        weights = sampling_weights(probs, temperature, top_k)
        tokens = torch.multinomial(weights, 1, generator=generator).squeeze(1)
        if position == 0:  # (with no prefix)
            tokens = first_characters(tokens, weights, generator)
        ended = (tokens == BOUNDARY) & (lengths == max_len)
        lengths[ended] = position
        contexts[:, model.context_length + position] = tokens
        if (lengths < max_len).all():
            break
    return contexts[:, model.context_length :], lengths


@dataclass
class Accepted:
    """The first `num` of the drawn words that `admits` (rejection sampling: each is a draw from the model given the
    constraints), one at a time; `drawn` and `kept` count as it goes. Refused in one line, after PILOT_DRAWS, when
    none was kept, or when the rate kept says that `num` would take more than MAX_DRAWS."""

    drawn_words: Iterator[str]
    admits: Callable[[str], bool]
    num: int
    drawn: int = 0
    kept: int = 0

    def __iter__(self) -> "Accepted":
        return self

    def __next__(self) -> str:
        while self.kept < self.num:
            word = next(self.drawn_words)
            self.drawn += 1
            if self.drawn == PILOT_DRAWS:
                self.refuse_if_rare()
            if self.admits(word):
                self.kept += 1
                return word
        raise StopIteration

    @property
    def rate(self) -> float:
        return self.kept / self.drawn if self.drawn else math.nan

    def refuse_if_rare(self) -> None:
        if self.kept == 0:
            raise MakemoreError(
                f"none of the first {self.drawn:,} words drawn meets the constraints: they are too rare to sample; "
                "loosen them, or list the most likely words that meet them with makemore top"
            )
        needed = math.ceil(self.num / self.rate)
        if needed > MAX_DRAWS:
            raise MakemoreError(
                f"{self.kept} of the first {self.drawn:,} words drawn meet the constraints ({self.rate:.3%}): "
                f"{self.num:,} would take about {needed:,} draws, more than {MAX_DRAWS:,}; ask for fewer or "
                "loosen the constraints"
            )


def first_characters(tokens: torch.Tensor, weights: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A word has a character, as every word of the data does: where the end was drawn first, a character is
    drawn instead from the weights of the characters alone (the model's distribution given a non-empty word)."""
    empty = tokens == BOUNDARY
    if empty.any():
        characters = weights[empty].index_fill(1, torch.tensor([BOUNDARY]), 0.0)
        if not (characters.sum(1) > 0).all():
            raise MakemoreError(
                "temperature and top_k leave the end as the only first token: no word to sample"
            )
        tokens[empty] = torch.multinomial(characters, 1, generator=generator).squeeze(1)
    return tokens


def length_distribution(samples: Sequence[str], train: Sequence[str]) -> str:
    """Share of the sampled words and of the train words at each length, as CSV: a row per length, from 0 to the
    longest word of either, each share rounded to 6 decimals."""
    shares = [length_shares(samples), length_shares(train)]
    longest = max(max(share, default=0) for share in shares)
    rows = [
        ",".join([str(length), *(repr(share.get(length, 0.0)) for share in shares)])
        for length in range(longest + 1)
    ]
    return "\n".join(["length,sampled,train", *rows]) + "\n"


def length_shares(words: Sequence[str]) -> dict[int, float]:
    """Each length's share of `words`, rounded as numpy rounds (as the table always was: its files keep their bytes)."""
    counts = Counter(map(len, words))
    return {length: float(np.round(count / len(words), 6)) for length, count in counts.items()}


def novelty(samples: Sequence[str], train: set[str], heldout: set[str]) -> dict[str, float]:
    """Share of samples seen in train, seen only in val/test, or new; and their mean length."""
    in_train = sum(word in train for word in samples)
    in_heldout = sum(word not in train and word in heldout for word in samples)
    return {
        "in_train": round(in_train / len(samples), 6),
        "in_val_or_test": round(in_heldout / len(samples), 6),
        "new": round((len(samples) - in_train - in_heldout) / len(samples), 6),
        "mean_length": round(sum(map(len, samples)) / len(samples), 6),
    }
