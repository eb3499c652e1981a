"""Bigram character models: vocabulary, encoding, the count model, the neural model, NLL and sampling."""

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
from tqdm import tqdm

from makemore import MakemoreError

BOUNDARY = 0  # index of the token that starts and ends every word
SPLITS = ("train", "val", "test")
CHUNK_WORDS = 1_000_000  # words encoded at once
CHUNK_BIGRAMS = 4_000_000  # bigrams counted at once
MAX_CURVE_POINTS = 1000  # steps recorded in the loss curve, whatever the number of steps
PROGRESS = "{desc}: {n_fmt}/{total_fmt} {unit}s{postfix} [{elapsed} elapsed, {remaining} left]"  # tqdm's bar_format


@dataclass(frozen=True)
class Vocabulary:
    """Index 0 is the boundary token; index i + 1 is `chars[i]`.

    The boundary token is an index, not a character, so it cannot collide with the data: `boundary`
    is only how it is shown, and is chosen to differ from every data character.
    """

    chars: tuple[str, ...]
    boundary: str = "."
    codepoints: torch.Tensor = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if not self.chars:
            raise ValueError("a vocabulary needs at least one character")
        if any(len(c) != 1 for c in self.chars) or list(self.chars) != sorted(set(self.chars)):
            raise ValueError("chars must be distinct single characters in sorted order")
        if self.boundary in self.chars:
            raise ValueError(f"boundary {self.boundary!r} is also a data character")
        object.__setattr__(self, "codepoints", torch.tensor([ord(c) for c in self.chars], dtype=torch.int32))

    @classmethod
    def from_words(cls, words: Sequence[str]) -> "Vocabulary":
        chars = tuple(sorted(set("".join(words))))
        # "." as in the lecture; a longer label when "." is itself data, as no single character can equal it.
        return cls(chars, boundary="." if "." not in chars else "<.>")

    @property
    def size(self) -> int:
        return len(self.chars) + 1

    @property
    def labels(self) -> list[str]:
        return [self.boundary, *self.chars]

    def encode(self, words: Sequence[str], dtype: torch.dtype = torch.long) -> torch.Tensor:
        """The indices of `.w1.w2. ... .wn.`: its consecutive pairs are exactly the bigrams of every word.

        Vectorised: the text is decoded to code points and looked up with a binary search in the sorted
        characters, instead of a Python lookup per character. It goes CHUNK_WORDS words at a time, so
        the temporary copies stay small whatever the corpus, and only the result, in `dtype`, grows.
        """
        starts = range(0, max(len(words), 1), CHUNK_WORDS)
        # each chunk starts with the boundary that ended the one before: keep it only in the first
        return torch.cat([self._encode_chunk(words[start : start + CHUNK_WORDS], dtype)[1 if start else 0 :] for start in starts])

    def _encode_chunk(self, words: Sequence[str], dtype: torch.dtype) -> torch.Tensor:
        text = "".join(f"\n{word}" for word in words) + "\n"  # "\n" marks the boundaries: lines never hold one
        codepoints = torch.frombuffer(bytearray(text.encode("utf-32-le")), dtype=torch.int32)
        positions = torch.searchsorted(self.codepoints, codepoints, out_int32=True).clamp(max=len(self.chars) - 1)
        is_boundary = codepoints == ord("\n")
        unknown = ~(is_boundary | (self.codepoints[positions] == codepoints))
        if unknown.any():
            char = chr(codepoints[unknown.nonzero()[0, 0]].item())
            raise MakemoreError(f"character {char!r} is not in the vocabulary")
        return torch.where(is_boundary, BOUNDARY, positions + 1).to(dtype)

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.chars[i - 1] for i in ids)


def split_words(words: Sequence[str], fractions: dict[str, float], seed: int) -> dict[str, list[str]]:
    """Shuffle with a seeded generator and cut into consecutive parts of the given fractions (summing to 1)."""
    order = torch.randperm(len(words), generator=torch.Generator().manual_seed(seed)).tolist()
    sizes = [int(len(words) * fraction) for fraction in fractions.values()]
    sizes[0] += len(words) - sum(sizes)  # what rounding down left over goes to the first split
    splits, start = {}, 0
    for (name, fraction), size in zip(fractions.items(), sizes):
        if size == 0:
            raise MakemoreError(f"split.{name} = {fraction} leaves the {name} split empty with {len(words)} words")
        splits[name] = [words[i] for i in order[start : start + size]]
        start += size
    return splits


def bigrams(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs `xs` and targets `ys` from an encoded sequence: each index predicts the next."""
    return ids[:-1], ids[1:]


def count_bigrams(xs: torch.Tensor, ys: torch.Tensor, size: int) -> torch.Tensor:
    """N[a, b] = how many times index b follows index a, for indices of any integer type.

    Counted CHUNK_BIGRAMS pairs at a time, so the int64 pair codes a * V + b stay small.
    """
    counts = torch.zeros(size * size, dtype=torch.long)
    for start in range(0, len(xs), CHUNK_BIGRAMS):
        pairs = xs[start : start + CHUNK_BIGRAMS].long() * size + ys[start : start + CHUNK_BIGRAMS].long()
        counts += torch.bincount(pairs, minlength=size * size)
    return counts.view(size, size)


def count_model(counts: torch.Tensor, smoothing: float) -> torch.Tensor:
    """P[a, b] = (N[a, b] + s) / sum_c (N[a, c] + s).

    A row never seen in training (possible only with s = 0) gets the uniform distribution, the limit
    of the formula as s -> 0, so every row stays a distribution.
    """
    counts = counts.double() + smoothing
    totals = counts.sum(1, keepdim=True)
    probs = torch.where(totals > 0, counts / totals, 1.0 / counts.shape[1]).float()
    if not rows_are_distributions(probs):  # a smoothing near the largest float makes the totals overflow
        raise MakemoreError(f"count.smoothing = {smoothing:g} is too large: the row totals overflow and the rows no longer sum to 1")
    return probs


def rows_are_distributions(probs: torch.Tensor) -> bool:
    rows_sum_to_1 = torch.allclose(probs.double().sum(1), torch.ones(len(probs), dtype=torch.float64), atol=1e-4)
    return bool(torch.isfinite(probs).all() and (probs >= 0).all() and rows_sum_to_1)


def nll(probs: torch.Tensor, counts: torch.Tensor) -> float:
    """Mean negative log-likelihood per bigram of the bigrams counted in `counts`; inf if one has probability 0."""
    return (-torch.xlogy(counts.double(), probs.double()).sum() / counts.sum()).item()


def score(probs: torch.Tensor, counts: torch.Tensor) -> dict[str, float | int | str]:
    """NLL, perplexity and bigram counts as JSON metrics; an infinite NLL is written as the string "inf"."""
    mean_nll = nll(probs, counts)
    return {
        "nll": round(mean_nll, 6) if math.isfinite(mean_nll) else "inf",
        "perplexity": round(math.exp(mean_nll), 4) if math.isfinite(mean_nll) else "inf",
        "bigrams": int(counts.sum()),
        "zero_probability_bigrams": int(counts[probs == 0].sum()),
    }


def data_loss(W: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Mean NLL of the neural model over all bigrams, at O(V^2) cost whatever their number.

    The lecture's loss over n bigrams (x_i, y_i) is -1/n sum_i log softmax(onehot(x_i) @ W)[y_i].
    onehot(a) @ W is row a of W, so each term depends only on the pair (a, b) it belongs to, and
    grouping equal pairs gives -1/n sum_{a,b} N[a, b] log softmax(W[a])[b]: the same value, hence the
    same gradient, computed from the V x V counts instead of n one-hot rows.
    """
    return -(counts * W.log_softmax(dim=1)).sum() / counts.sum()


@dataclass
class Training:
    W: torch.Tensor
    curve: list[tuple[int, float, float]]  # (step, train NLL, val NLL) before some updates, and after the last


def recorded(step: int, steps: int) -> bool:
    """Whether the curve records `step`: every step up to MAX_CURVE_POINTS steps, evenly spaced ones beyond."""
    return step % math.ceil(steps / MAX_CURVE_POINTS) == 0 or step == steps


def progress(iterable: Iterable | None = None, desc: str = "", total: int | None = None, unit: str = "it") -> tqdm:
    """A progress bar on stderr (count, time elapsed and left), drawn only when stderr is a terminal.

    Drawn from the first update after half a second, not when it is made: a short stage shows none, and a
    Ctrl-C cannot land between the first drawing and the `with` that closes the bar on the way out.
    """
    return tqdm(iterable, desc, total, unit=unit, bar_format=PROGRESS, mininterval=1.0, delay=0.5, disable=None)


def train_nn(
    train_counts: torch.Tensor, val_counts: torch.Tensor, *, lr: float, steps: int, reg: float, seed: int
) -> Training:
    """Full-batch gradient descent on loss = data NLL + reg * mean(W^2), from W ~ N(0, 1).

    A progress bar (step, train NLL, time left) is drawn on stderr when it is a terminal.
    """
    size = train_counts.shape[0]
    train_counts, val_counts = train_counts.float(), val_counts.float()
    W = torch.randn((size, size), generator=torch.Generator().manual_seed(seed), requires_grad=True)
    curve = []
    with progress(desc="train", total=steps, unit="step") as bar:
        for step in range(steps + 1):
            train_nll = data_loss(W, train_counts)
            loss = train_nll + reg * (W**2).mean()
            if not torch.isfinite(loss):
                raise MakemoreError(divergence(loss.item(), step, lr=lr, reg=reg, size=size))
            if recorded(step, steps):
                with torch.no_grad():
                    curve.append((step, train_nll.item(), data_loss(W, val_counts).item()))
                bar.set_postfix_str(f"train NLL {curve[-1][1]:.4f}, val NLL {curve[-1][2]:.4f}", refresh=False)
            if step == steps:
                break
            W.grad = None
            loss.backward()
            with torch.no_grad():
                W -= lr * W.grad
            bar.update()
    return Training(W.detach(), curve)


def divergence(loss: float, step: int, *, lr: float, reg: float, size: int) -> str:
    """Name the param that made the loss non-finite.

    The L2 term's gradient is 2 reg W / V^2, so its step multiplies W by 1 - 2 lr reg / V^2: once
    lr * reg > V^2 that factor is below -1 and W grows without bound, whatever the data term does.
    Below that, only the data term's steps, so lr, can be to blame.
    """
    if step == 0:
        return f"train.reg = {reg:g} is too large: the L2 term reg * mean(W^2) is {loss} before the first step"
    if lr * reg > size * size:
        return (f"train.lr = {lr:g} and train.reg = {reg:g} are too large together: the loss became {loss} at step {step}, "
                f"as the L2 term's steps diverge once lr * reg > V^2 = {size * size} (here {lr * reg:g})")  # fmt: skip
    return f"train.lr = {lr:g} is too large: the loss became {loss} at step {step}; try a smaller lr"


def sampling_weights(probs: torch.Tensor, temperature: float = 1.0, top_k: int | None = None) -> torch.Tensor:
    """Unnormalised next-token weights: `probs` sharpened (temperature < 1) or flattened (> 1), then cut to the
    top k of each row (and any tied with the k-th: smoothed counts have many equal entries).

    p ** (1 / T) is softmax(logits / T) up to normalisation. Dividing each row by its maximum first
    keeps the most likely token at weight 1, so a temperature near 0 picks it instead of underflowing
    every weight to 0. At T = 1 the weights are `probs` itself, so the draws match plain sampling bit for bit.
    """
    weights = probs if temperature == 1 else (probs / probs.max(dim=1, keepdim=True).values) ** (1 / temperature)
    if top_k is not None and top_k < probs.shape[1]:
        kth = weights.topk(top_k, dim=1).values[:, -1:]
        weights = torch.where(weights < kth, 0.0, weights)
    return weights


def sample(
    probs: torch.Tensor,
    num: int,
    seed: int,
    max_len: int,
    temperature: float = 1.0,
    top_k: int | None = None,
) -> Iterator[list[int]]:
    """`num` index sequences, each drawn from the boundary token until it is drawn again, at most `max_len` long.

    Yielded one by one, so a reader can print each as it comes. The same seed gives the same words.
    """
    weights = sampling_weights(probs, temperature, top_k)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(num):
        ids, ix = [], BOUNDARY
        while len(ids) < max_len:
            ix = torch.multinomial(weights[ix], num_samples=1, replacement=True, generator=generator).item()
            if ix == BOUNDARY:
                break
            ids.append(ix)
        yield ids


def length_distribution(samples: Sequence[str], train: Sequence[str]) -> "pd.DataFrame":
    """Share of the sampled words and of the train words at each length, one row per length."""
    import pandas as pd  # here, not at the top: only the sample stage needs it, and every stage imports this module

    shares = pd.DataFrame(
        {
            "sampled": pd.Series(map(len, samples)).value_counts(normalize=True),
            "train": pd.Series(map(len, train)).value_counts(normalize=True),
        }
    )
    shares = shares.reindex(range(shares.index.max() + 1), fill_value=0.0).fillna(0.0).round(6)
    return shares.rename_axis("length").reset_index()


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
