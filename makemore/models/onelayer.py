"""The lecture's neural net on any context length: one linear layer, trained by plain gradient descent.

The input is the context of order - 1 tokens, one-hot over the contexts; W has a row per context, so
onehot(context) @ W is that row, and the logits are found by indexing (the lecture's exercise E04). Only
the contexts seen in training get a row: a context never seen predicts the uniform distribution, where
the L2 term would take its row anyway. The loss is F.cross_entropy (E05) plus reg * mean(W^2).
"""

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, StrictInt

from makemore import ParamError
from makemore.models.contexts import ContextIndex, Positions, combined
from makemore.models.interface import FamilyConfig, FitData, Model, Training
from makemore.models.ngram import MAX_ORDER
from makemore.models.steps import Steps, recorded
from makemore.params import Seed
from makemore.vocab import Vocabulary

MAX_WEIGHTS = 1 << 27  # entries of W (512 MB of float32) beyond which fitting is refused


class OneLayerConfig(FamilyConfig):
    family: Literal["onelayer"]
    order: StrictInt = Field(ge=1, le=MAX_ORDER)  # tokens per n-gram: the context is order - 1 tokens
    lr: float = Field(gt=0)  # gradient descent step size
    steps: StrictInt = Field(ge=1)  # full-batch gradient steps
    reg: float = Field(ge=0)  # weight of the L2 term mean(W^2) in the loss
    seed: Seed  # torch.Generator seed for the initial W


class OneLayer(Model):
    Config = OneLayerConfig

    def __init__(self, config: OneLayerConfig, vocab: Vocabulary, index: ContextIndex, W: torch.Tensor):
        super().__init__(config, vocab)
        self.index = index
        self.W = W  # (seen contexts, V): the logits after each

    @property
    def context_length(self) -> int:
        return self.config.order - 1

    def log_probs(self, contexts: torch.Tensor) -> torch.Tensor:
        ids = self.index.lookup(contexts)[-1]
        logits = torch.where((ids >= 0).unsqueeze(1), self.W[ids.clamp(min=0)], 0.0)
        return logits.log_softmax(dim=1)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"W": self.W} | self.index.tensors()

    @classmethod
    def from_tensors(
        cls, config: OneLayerConfig, vocab: Vocabulary, tensors: dict[str, torch.Tensor]
    ) -> "OneLayer":
        index = ContextIndex.from_tensors(tensors, config.order - 1, vocab.size)
        W = tensors["W"]
        if W.dtype != torch.float32 or W.shape != (index.count, vocab.size) or not torch.isfinite(W).all():
            raise ValueError("W is not a finite (contexts x V) float32 matrix")
        return cls(config, vocab, index, W)

    @classmethod
    def fit(cls, config: OneLayerConfig, data: FitData) -> Training:
        vocab, train, val = data.vocab, data.train.whole(), data.val.whole()
        size = vocab.size
        index, train_ids = ContextIndex.build(train, config.order - 1, size)
        contexts = index.count
        if contexts * size > MAX_WEIGHTS:
            raise ParamError(
                f"order = {config.order} needs W of {contexts:,} contexts x {size} tokens, "
                f"more than {MAX_WEIGHTS:,} weights"
            )
        train_counts = pair_counts(train_ids, train.targets, contexts, size)  # (contexts, V)
        val_nll = val_measure(index, val, config.order - 1, size)
        optimum = maximum_likelihood_nll(train_counts)
        seeded = torch.Generator().manual_seed(config.seed)
        W = torch.randn((contexts, size), generator=seeded, requires_grad=True)  # (contexts, V)
        curve = []
        steps = Steps(config.steps, lambda loss, step: divergence(loss, step, config, W.numel()))
        for step in steps:
            train_nll = data_loss(W, train_counts)
            loss = train_nll + config.reg * (W**2).mean()
            steps.check(loss)
            if recorded(step, config.steps):
                curve.append({"step": step, "train": train_nll.item(), "val": val_nll(W), "optimum": optimum})
                steps.show(curve[-1])
            if step == config.steps:
                break
            W.grad = None
            loss.backward()
            with torch.no_grad():
                W -= config.lr * W.grad
        W = W.detach()
        summary = {
            "gap_to_optimum": round(curve[-1]["train"] - optimum, 6),
            "max_prob_diff_to_optimum": round(
                (W.softmax(dim=1) - train_counts / train_counts.sum(1, keepdim=True)).abs().max().item(), 6
            ),
        }
        return Training(cls(config, vocab, index, W), curve, summary)


def pair_counts(context_ids: torch.Tensor, targets: torch.Tensor, contexts: int, size: int) -> torch.Tensor:
    """N[c, t]: how many times token t follows context c."""
    return (
        torch.bincount(combined(context_ids, size, targets, contexts), minlength=contexts * size)
        .view(contexts, size)
        .float()
    )


def data_loss(W: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Mean NLL over all positions, at O(contexts x V) cost whatever their number.

    The loss over n positions is -1/n sum_i log softmax(W[c_i])[t_i]: each term depends only on its
    (context, token) pair, so grouping equal pairs gives -1/n sum_{c,t} N[c, t] log softmax(W[c])[t],
    the same value and gradient. F.cross_entropy with the counts as (unnormalised) targets is that sum.
    """
    return F.cross_entropy(W, counts, reduction="sum") / counts.sum().clamp(min=1)


def maximum_likelihood_nll(counts: torch.Tensor) -> float:
    """The train NLL of the row-normalised counts, the optimum gradient descent heads for without reg."""
    counts = counts.double()
    return (
        -torch.xlogy(counts, counts / counts.sum(1, keepdim=True).clamp(min=1)).sum() / counts.sum()
    ).item()


def val_measure(
    index: ContextIndex, val: Positions, length: int, size: int
) -> Callable[[torch.Tensor], float]:
    """The val NLL of a W, from val's (context, token) counts; a context never seen in training predicts the
    uniform distribution, whatever W holds."""
    val_ids = index.lookup(val.contexts(length, torch.arange(len(val))))[-1]
    seen = val_ids >= 0
    val_counts = pair_counts(val_ids[seen], val.targets[seen], index.count, size)
    # a uniform prediction each
    unseen_nll = float((~seen).sum()) * torch.log(torch.tensor(float(size))).item()

    @torch.no_grad()
    def measure(W: torch.Tensor) -> float:
        return (data_loss(W, val_counts).item() * val_counts.sum().item() + unseen_nll) / len(val)

    return measure


def divergence(loss: float, step: int, config: OneLayerConfig, weights: int) -> str:
    """Name the param that made the loss non-finite.

    The L2 term's gradient is 2 reg W / (number of weights), so its step multiplies W by 1 - 2 lr reg / weights:
    once lr * reg > weights that factor is below -1 and W grows without bound, whatever the data term does.
    Below that, only the data term's steps, so lr, can be to blame.
    """
    lr, reg = config.lr, config.reg
    if step == 0:
        return f"reg = {reg:g} is too large: the L2 term reg * mean(W^2) is {loss} before the first step"
    if lr * reg > weights:
        return (
            f"lr = {lr:g} and reg = {reg:g} are too large together: the loss became {loss} at step {step}, "
            f"as the L2 term's steps diverge once lr * reg > the {weights} weights of W (here {lr * reg:g})"
        )
    return f"lr = {lr:g} is too large: the loss became {loss} at step {step}; try a smaller lr"
