"""What the neural families share: a net that reads a word from its start, and how it is trained.

A family's net maps tokens (B, T), each row a word from its start boundary, to logits (B, T, V): the
prediction at position t may read tokens 0..t only. Training is minibatch AdamW with a linear warm-up
and a cosine decay, seeded, on random batches of train words; every `eval_every` steps the exact val
NLL (evaluate.py's, the same as the count models') is measured and the best checkpoint kept.
"""

import math
import time
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, StrictInt, model_validator
from torch import nn

from makemore import MakemoreError
from makemore.contexts import Positions
from makemore.evaluate import total_log_likelihood
from makemore.models.base import FamilyConfig, Model, Training
from makemore.params import Seed
from makemore.training import MAX_CURVE_POINTS, progress
from makemore.vocab import BOUNDARY, Vocabulary

IGNORED = -1  # the target after a word's end, where a batch of words is padded
EVAL_ROWS = 4096  # words run through the net at once when predicting


class NetworkConfig(FamilyConfig):
    steps: StrictInt = Field(ge=1, le=10_000_000)  # AdamW steps
    batch_size: StrictInt = Field(ge=1, le=1 << 16)  # train words per step, drawn at random
    lr: float = Field(gt=0, le=10)  # the peak learning rate, reached after the warm-up
    warmup: StrictInt = Field(ge=0)  # steps of linear warm-up from 0 to lr
    min_lr: float = Field(ge=0)  # the learning rate the cosine decay ends at, on the last step
    weight_decay: float = Field(ge=0)  # AdamW's, on the weight matrices and embeddings (not biases and norms)
    eval_every: StrictInt = Field(ge=1)  # steps between measurements of the exact val NLL; the best model is kept
    seed: Seed  # initial weights, batches and dropout
    device: Literal["cpu", "auto"] = "cpu"  # auto: a GPU when there is one (results differ from the CPU's)

    @model_validator(mode="after")
    def schedule_fits(self) -> "NetworkConfig":
        if self.warmup > self.steps:
            raise ValueError(f"warmup = {self.warmup} is more than steps = {self.steps}")
        if self.min_lr > self.lr:
            raise ValueError(f"min_lr = {self.min_lr:g} is more than lr = {self.lr:g}")
        if self.lr * self.weight_decay >= 1:
            raise ValueError(f"weight_decay = {self.weight_decay:g} is too large for lr = {self.lr:g}: AdamW's decay multiplies every weight "
                             f"by 1 - lr * weight_decay = {1 - self.lr * self.weight_decay:g} a step; keep lr * weight_decay below 1")  # fmt: skip
        if self.steps // self.eval_every > MAX_CURVE_POINTS:
            raise ValueError(f"eval_every = {self.eval_every} measures val {self.steps // self.eval_every + 1:,} times in steps = {self.steps}: "
                             f"at most {MAX_CURVE_POINTS + 1:,} (a bounded curve); raise eval_every")  # fmt: skip
        return self


def learning_rate(config: NetworkConfig, step: int) -> float:
    """Linear warm-up to lr over `warmup` steps, then a cosine decay towards min_lr, which it would reach at
    step `steps`, one after the last update."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(config.steps - config.warmup, 1)
    return config.min_lr + (config.lr - config.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


class Network(Model):
    """A family whose model is a torch net; it gives `Net` (built from its config, V and the context length)."""

    Config: type[NetworkConfig]
    Net: type[nn.Module]

    def __init__(self, config: NetworkConfig, vocab: Vocabulary, net: nn.Module):
        super().__init__(config, vocab)
        self.net = net.eval()

    @classmethod
    def reach(cls, config: NetworkConfig, max_len: int) -> int:
        """The context length: by default a whole word of up to `max_len` characters, its start boundary included."""
        return max_len + 1

    @property
    def context_length(self) -> int:
        return self.net.context_length

    @property
    def max_word_length(self) -> int | None:
        return self.context_length - 1

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"context_length": torch.tensor(self.context_length)} | self.net.state_dict()

    @classmethod
    def from_tensors(cls, config: NetworkConfig, vocab: Vocabulary, tensors: dict[str, torch.Tensor]) -> "Network":
        tensors = dict(tensors)
        context_length = int(tensors.pop("context_length"))
        if not 2 <= context_length <= 1 << 16 or cls.reach(config, context_length - 1) != context_length:
            raise ValueError(f"context length {context_length}")  # e.g. an MLP's must be its config's
        net = cls.Net(config, vocab.size, context_length)
        for weights in tensors.values():
            if weights.dtype != torch.float32 or not torch.isfinite(weights).all():
                raise ValueError("weights that are not finite float32")
        net.load_state_dict(tensors, strict=True)  # a RuntimeError for a missing, extra or misshapen tensor
        return cls(config, vocab, net)

    def log_probs(self, contexts: torch.Tensor) -> torch.Tensor:
        words, last = self.from_word_start(contexts)
        return self.word_log_probs(words, last)[torch.arange(len(words)), last]

    def log_probs_of(self, contexts: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """The net reads each distinct word once, from its start, and answers for every context that is a prefix of
        it: the cost of the words, not of the positions (a word of n tokens is n contexts).

        Each context followed by its token is a sequence; sorted, with the end padded below every token, a
        sequence comes just before the sequences it is a prefix of, so it is read with the first sequence
        after it that is a prefix of none.
        """
        words, last = self.from_word_start(contexts)
        rows, columns = torch.arange(len(words)), torch.arange(words.shape[1] + 1)
        sequences = torch.cat([words, words[:, :1]], dim=1)
        sequences[rows, last + 1] = tokens.long()
        sequences = torch.where(columns <= (last + 1)[:, None], sequences, IGNORED)
        distinct, inverse = torch.unique(sequences, dim=0, return_inverse=True)
        following = distinct.roll(-1, 0)
        covered = ((distinct == following) | (distinct == IGNORED)).all(1)
        covered[-1] = False
        reader = torch.where(covered, len(distinct), torch.arange(len(distinct))).flip(0).cummin(0).values.flip(0)
        readers, reader_of = torch.unique(reader, return_inverse=True)
        inputs = distinct[readers, :-1].clamp(min=BOUNDARY)
        ends = (distinct[readers] != IGNORED).sum(1) - 2
        return self.word_log_probs(inputs, ends)[reader_of[inverse], last, tokens.long()]

    @torch.no_grad()
    def word_log_probs(self, words: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
        """(B, T) words from their start, and the last position to read in each -> (B, T, V) log-probabilities,
        up to each row's end. The words are read in chunks of similar length, each as wide as its longest."""
        log_probs = torch.zeros(*words.shape, self.vocab.size)
        order = ends.argsort(stable=True)
        device = next(self.net.parameters()).device  # a GPU's while training there
        for start in range(0, len(words), EVAL_ROWS):
            chunk = order[start : start + EVAL_ROWS]
            width = int(ends[chunk].max()) + 1
            log_probs[chunk, :width] = self.net(words[chunk, :width].to(device)).log_softmax(-1).cpu()
        return log_probs

    @classmethod
    def fit(cls, config: NetworkConfig, vocab: Vocabulary, train: Positions, val: Positions, max_len: int) -> Training:
        device = torch.device("cuda" if config.device == "auto" and torch.cuda.is_available() else "cpu")
        inputs, targets, characters = padded_words(train)
        torch.manual_seed(config.seed)
        net = cls.Net(config, vocab.size, cls.reach(config, max_len)).to(device)
        model = cls(config, vocab, net)
        optimizer = torch.optim.AdamW(parameter_groups(net, config.weight_decay), lr=config.lr, betas=(0.9, 0.99), fused=True)
        batches = torch.Generator().manual_seed(config.seed)
        curve, seconds, best = [], [], {"val": math.inf}
        started = time.perf_counter()
        train_sum, train_tokens = 0.0, 0
        with progress(desc="train", total=config.steps, unit="step") as bar:
            for step in range(config.steps + 1):
                rows = torch.randint(len(inputs), (config.batch_size,), generator=batches)
                width = int(characters[rows].max()) + 1
                xs, ys = inputs[rows, :width].to(device), targets[rows, :width].to(device)
                net.train()
                logits = net(xs)
                loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), ys.reshape(-1), ignore_index=IGNORED)
                if not torch.isfinite(loss):
                    raise MakemoreError(f"lr = {config.lr:g} is too large: the loss became {loss.item()} at step {step}; try a smaller lr")
                tokens = int((ys != IGNORED).sum())
                train_sum, train_tokens = train_sum + loss.item() * tokens, train_tokens + tokens
                if step % config.eval_every == 0 or step == config.steps:  # train: the mean batch loss since the last row
                    val_nll = -total_log_likelihood(model.evaluating(), val)[0] / len(val)
                    curve.append({"step": step, "train": train_sum / train_tokens, "val": val_nll})
                    seconds.append(time.perf_counter() - started)
                    train_sum, train_tokens = 0.0, 0
                    if step == 0 or val_nll < best["val"]:
                        best = {"val": val_nll, "step": step, "weights": {k: v.detach().clone() for k, v in net.state_dict().items()}}
                    bar.set_postfix_str(f"train NLL {curve[-1]['train']:.4f}, val NLL {val_nll:.4f}", refresh=False)
                if step == config.steps:
                    break
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(config, step)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                bar.update()
        if best["step"] == 0 and config.steps > 0:
            raise MakemoreError(f"lr = {config.lr:g}: the val NLL never fell below the untrained net's ({best['val']:.4f} at step 0): "
                                "nothing was learned, so no model is written; try a smaller lr")  # fmt: skip
        net.load_state_dict(best["weights"])
        net.cpu()
        summary = {
            "best_step": best["step"],
            "best_val_nll": round(best["val"], 6),
            "parameters": sum(p.numel() for p in net.parameters()),
        }
        return Training(model.evaluating(), curve, summary, seconds)

    def from_word_start(self, contexts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Contexts shifted left to start at their word's start (the last boundary in them), and where each now ends.

        A context is padded with the boundary before its word; a net that reads the word from its start wants the
        word at position 0. A context with no boundary is a word longer than the context: a net of whole words
        refuses it (a window would read it without its start), a net of windows reads it as it is.
        """
        contexts = contexts.long()
        width = contexts.shape[1]
        columns = torch.arange(width)
        is_boundary = contexts == BOUNDARY
        if self.max_word_length is not None and not is_boundary.any(1).all():
            raise MakemoreError(f"a word longer than the {self.max_word_length} characters this model reads whole (data.max_len when it was trained)")
        start = torch.where(is_boundary, columns, 0).amax(1)
        shifted = contexts.gather(1, (start[:, None] + columns[None]).clamp(max=width - 1))
        return shifted, width - 1 - start

    def evaluating(self) -> "Network":
        self.net.eval()  # no dropout
        return self


def padded_words(positions: Positions) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every word as a row: inputs from its start boundary, targets to its end boundary, IGNORED after; and each
    word's number of characters."""
    starts = (positions.offsets == 0).nonzero().squeeze(1)
    ends = torch.cat([starts[1:], starts.new_tensor([len(positions)])])
    lengths = ends - starts  # positions per word: its characters and the end
    width = int(lengths.max())
    columns = torch.arange(width)
    at = (starts[:, None] + columns[None]).clamp(max=len(positions) - 1)
    inside = columns[None] < lengths[:, None]
    inputs = torch.where(inside, positions.stream[at].long(), BOUNDARY)
    targets = torch.where(inside, positions.targets[at].long(), IGNORED)
    return inputs, targets, lengths - 1


def parameter_groups(net: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on matrices and embeddings only, as in GPT-2: not on biases and norm gains."""
    params = [p for p in net.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
