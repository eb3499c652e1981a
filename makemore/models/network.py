"""What the neural families share: a net that reads a word from its start, and how it is trained.

A family's net maps tokens (B, T), each row a word from its start boundary, to logits (B, T, V): the
prediction at position t may read tokens 0..t only. Training is minibatch AdamW with a linear warm-up
and a cosine decay, seeded, on random batches of train words; every `eval_every` steps the exact val
NLL (evaluate.py's, the same as the count models') is measured and the best checkpoint kept.
"""

import bisect
import math
import sys
import time
from collections.abc import Iterator
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
from makemore.training import MAX_CURVE_POINTS, Checkpoint, Forecast, machine_memory, progress
from makemore.vocab import BOUNDARY, Vocabulary

IGNORED = -1  # the target after a word's end, where a batch of words is padded
EVAL_TOKENS = 1 << 16  # positions (words x their width) run through the net at once when predicting


class NetworkConfig(FamilyConfig):
    steps: StrictInt = Field(ge=1, le=10_000_000)  # AdamW steps
    batch_size: StrictInt = Field(ge=1, le=1 << 16)  # train words per step, drawn at random
    lr: float = Field(gt=0, le=10)  # the peak learning rate, reached after the warm-up
    warmup: StrictInt = Field(ge=0)  # steps of linear warm-up from 0 to lr
    min_lr: float = Field(ge=0)  # the learning rate the cosine decay ends at, on the last step
    weight_decay: float = Field(ge=0)  # AdamW's, on the weight matrices and embeddings (not biases and norms)
    eval_every: StrictInt = Field(
        ge=1
    )  # steps between measurements of the exact val NLL; the best model is kept
    seed: Seed  # initial weights, batches and dropout
    device: Literal["cpu", "auto"] = "cpu"  # auto: a GPU when there is one (results differ from the CPU's)

    @model_validator(mode="after")
    def schedule_fits(self) -> "NetworkConfig":
        if self.warmup > self.steps:
            raise ValueError(f"warmup = {self.warmup} is more than steps = {self.steps}")
        if self.min_lr > self.lr:
            raise ValueError(f"min_lr = {self.min_lr:g} is more than lr = {self.lr:g}")
        if self.lr * self.weight_decay >= 1:
            raise ValueError(
                f"weight_decay = {self.weight_decay:g} is too large for lr = {self.lr:g}: AdamW's decay multiplies every weight "
                f"by 1 - lr * weight_decay = {1 - self.lr * self.weight_decay:g} a step; keep lr * weight_decay below 1"
            )
        if self.steps // self.eval_every > MAX_CURVE_POINTS:
            raise ValueError(
                f"eval_every = {self.eval_every} measures val {self.steps // self.eval_every + 1:,} times in steps = {self.steps}: "
                f"at most {MAX_CURVE_POINTS + 1:,} (a bounded curve); raise eval_every"
            )
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
    def from_tensors(
        cls, config: NetworkConfig, vocab: Vocabulary, tensors: dict[str, torch.Tensor]
    ) -> "Network":
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
        return self.word_log_probs(words, last, torch.arange(len(words)), last)

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
        reader = (
            torch.where(covered, len(distinct), torch.arange(len(distinct))).flip(0).cummin(0).values.flip(0)
        )
        readers, reader_of = torch.unique(reader, return_inverse=True)
        inputs = distinct[readers, :-1].clamp(min=BOUNDARY)
        ends = (distinct[readers] != IGNORED).sum(1) - 2
        log_probs = self.word_log_probs(inputs, ends, reader_of[inverse], last)
        return log_probs.gather(1, tokens.long().unsqueeze(1)).squeeze(1)

    @torch.no_grad()
    def word_log_probs(
        self, words: torch.Tensor, ends: torch.Tensor, rows: torch.Tensor, columns: torch.Tensor
    ) -> torch.Tensor:
        """(B, T) words from their start and the last position to read in each -> (N, V) log-probabilities at the N
        positions (rows, columns). The words are read in chunks of similar length, each as wide as its longest and
        of at most EVAL_TOKENS positions (or one word): a long word costs its own length, not every word's."""
        log_probs = torch.empty(len(rows), self.vocab.size)
        order = ends.argsort(stable=True)
        rank = torch.empty_like(order)
        rank[order] = torch.arange(len(order))
        asked = rank[rows].argsort(stable=True)  # the positions, word by word in the order the words are read
        asked_ranks = rank[rows][asked]
        device = next(self.net.parameters()).device  # a GPU's while training there
        for first, last in length_chunks(ends[order].tolist()):
            width = int(ends[order[last - 1]]) + 1
            logits = self.net(words[order[first:last], :width].to(device))  # (b, width, V)
            at = asked[torch.searchsorted(asked_ranks, first) : torch.searchsorted(asked_ranks, last)]
            log_probs[at] = logits[rank[rows[at]] - first, columns[at]].log_softmax(-1).cpu()
        return log_probs

    @classmethod
    def fit(
        cls,
        config: NetworkConfig,
        vocab: Vocabulary,
        train: Positions,
        val: Positions,
        max_len: int,
        checkpoint: Checkpoint | None = None,
    ) -> Training:
        device = torch.device("cuda" if config.device == "auto" and torch.cuda.is_available() else "cpu")
        inputs, targets, characters = padded_words(train)
        check_memory(cls, config, vocab.size, cls.reach(config, max_len), int(characters.max()) + 1, device)
        torch.manual_seed(config.seed)
        net = cls.Net(config, vocab.size, cls.reach(config, max_len)).to(device)
        model = cls(config, vocab, net)
        optimizer = torch.optim.AdamW(
            parameter_groups(net, config.weight_decay), lr=config.lr, betas=(0.9, 0.99), fused=True
        )
        batches = torch.Generator().manual_seed(config.seed)
        run = {
            "step": 0,
            "curve": [],
            "best": {"val": math.inf},
            "seconds": 0.0,
        }  # what a checkpoint holds, with the states
        if checkpoint and (saved := checkpoint.load()):
            run = resume(saved, net, optimizer, batches, device)
        curve, best = run["curve"], run["best"]
        started = time.perf_counter() - run["seconds"]
        train_sum, train_tokens = 0.0, 0
        forecast = Forecast(config.steps, initial=run["step"])
        with progress(desc="train", total=config.steps, unit="step", initial=run["step"]) as bar:
            for step in range(run["step"], config.steps + 1):
                rows = torch.randint(len(inputs), (config.batch_size,), generator=batches)
                width = int(characters[rows].max()) + 1
                xs, ys = inputs[rows, :width].to(device), targets[rows, :width].to(device)
                net.train()
                logits = net(xs)
                loss = F.cross_entropy(
                    logits.view(-1, logits.shape[-1]), ys.reshape(-1), ignore_index=IGNORED
                )
                if not torch.isfinite(loss):
                    raise MakemoreError(
                        f"lr = {config.lr:g} is too large: the loss became {loss.item()} at step {step}; try a smaller lr"
                    )
                tokens = int((ys != IGNORED).sum())
                train_sum, train_tokens = train_sum + loss.item() * tokens, train_tokens + tokens
                measured = step % config.eval_every == 0 or step == config.steps
                if measured:  # train: the mean batch loss since the last row
                    val_nll = -total_log_likelihood(model.evaluating(), val)[0] / len(val)
                    curve.append({"step": step, "train": train_sum / train_tokens, "val": val_nll})
                    train_sum, train_tokens = 0.0, 0
                    if step == 0 or val_nll < best["val"]:
                        best = {
                            "val": val_nll,
                            "step": step,
                            "weights": {k: v.detach().clone() for k, v in net.state_dict().items()},
                        }
                    bar.set_postfix_str(
                        f"train NLL {curve[-1]['train']:.4f}, val NLL {val_nll:.4f}", refresh=False
                    )
                if step == config.steps:
                    break
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(config, step)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                bar.update()
                forecast.done(step + 1)
                if checkpoint and measured:  # after the row's update, with no train loss summed since the row
                    checkpoint.save(
                        snapshot(
                            step + 1, curve, best, time.perf_counter() - started, net, optimizer, batches
                        )
                    )
        if best["step"] == 0 and config.steps > 0:
            raise MakemoreError(
                f"lr = {config.lr:g}: the val NLL never fell below the untrained net's ({best['val']:.4f} at step 0): "
                "nothing was learned, so no model is written; try a smaller lr"
            )
        net.load_state_dict(best["weights"])
        net.cpu()
        summary = {
            "best_step": best["step"],
            "best_val_nll": round(best["val"], 6),
            "parameters": sum(p.numel() for p in net.parameters()),
        }
        return Training(model.evaluating(), curve, summary, seconds=time.perf_counter() - started)

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
            raise MakemoreError(
                f"a word longer than the {self.max_word_length} characters this model reads whole (data.max_len when it was trained)"
            )
        start = torch.where(is_boundary, columns, 0).amax(1)
        shifted = contexts.gather(1, (start[:, None] + columns[None]).clamp(max=width - 1))
        return shifted, width - 1 - start

    def evaluating(self) -> "Network":
        self.net.eval()  # no dropout
        return self


def check_memory(
    family: type[Network],
    config: NetworkConfig,
    vocab_size: int,
    context_length: int,
    width: int,
    device: torch.device,
) -> None:
    """Refuse, before any is allocated, a net whose training would not fit in the memory of the machine (or of its
    GPU); warn when it would take more than half.

    The net is built on torch's meta device, which allocates nothing: its weights are counted 5 times (the
    weights, their gradients, AdamW's two moments, the best ones kept), and one forward pass of a batch of the
    longest train words gives the activations kept for the backward pass (saved_tensors_hooks adds them up);
    the evaluation reads up to EVAL_TOKENS positions at once without keeping them.
    """
    activations, counted = 0, set()

    def kept(
        tensor: torch.Tensor,
    ) -> torch.Tensor:  # once each, and not the weights (a GRU keeps them at every step)
        nonlocal activations
        if (
            id(tensor) not in counted
            and id(tensor if tensor._base is None else tensor._base) not in weight_ids
        ):
            activations += tensor.numel() * tensor.element_size()
            counted.add(id(tensor))  # the graph holds the tensor until the pass is over: its id is not reused
        return tensor

    with torch.device("meta"):
        net = family.Net(config, vocab_size, context_length).train()
        weight_ids = {id(weights) for weights in net.parameters()}
        with torch.autograd.graph.saved_tensors_hooks(kept, lambda tensor: tensor):
            logits = net(torch.zeros(config.batch_size, width, dtype=torch.long))  # (B, T, V)
        del logits
    weights = sum(p.numel() * p.element_size() for p in net.parameters())
    batch_tokens = config.batch_size * width
    needed = 5 * weights + max(activations, activations * EVAL_TOKENS // batch_tokens)
    memory = (
        torch.cuda.get_device_properties(device).total_memory if device.type == "cuda" else machine_memory()
    )
    where = "this GPU" if device.type == "cuda" else "this machine"
    if needed <= memory // 2:
        return
    sizes = {
        key: value for key, value in config if key not in NetworkConfig.model_fields and type(value) is int
    }
    blamed = "batch_size" if activations > weights or not sizes else max(sizes, key=sizes.get)
    estimate = (
        f"training would need about {needed / 1e9:.1f} GB of memory ({weights // 4:,} weights, with their gradients, AdamW's moments "
        f"and the best ones: {5 * weights / 1e9:.1f} GB; the activations of a batch: {activations / 1e9:.1f} GB)"
    )
    if needed > memory:
        raise MakemoreError(
            f"{blamed} = {getattr(config, blamed)} is too large: {estimate}, more than the {memory / 1e9:.1f} GB of {where}"
        )
    print(f"warning: {estimate}, more than half of the {memory / 1e9:.1f} GB of {where}", file=sys.stderr)


def snapshot(
    step: int,
    curve: list[dict],
    best: dict,
    seconds: float,
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: torch.Generator,
) -> dict:
    """Everything a run needs to go on from `step` as if it had never stopped: the weights, AdamW's moments, the
    batches' and dropout's random states, the curve so far and the best model."""
    random = {"batches": batches.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        random["cuda"] = torch.cuda.get_rng_state_all()
    return {
        "step": step,
        "curve": curve,
        "best": best,
        "seconds": seconds,
        "net": net.state_dict(),
        "optimizer": optimizer.state_dict(),
        "random": random,
    }


def resume(
    saved: dict,
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: torch.Generator,
    device: torch.device,
) -> dict:
    """Put a snapshot's states back in place; the run's step, curve, best and seconds."""
    net.load_state_dict(saved["net"])
    optimizer.load_state_dict(saved["optimizer"])
    batches.set_state(saved["random"]["batches"])
    torch.set_rng_state(saved["random"]["torch"])
    if "cuda" in saved["random"] and device.type == "cuda":
        torch.cuda.set_rng_state_all(saved["random"]["cuda"])
    return saved


def length_chunks(ends: list[int]) -> Iterator[tuple[int, int]]:
    """Slices [first, last) of words sorted by length (`ends`, the last position of each) whose words, each padded
    to the longest of its slice, hold at most EVAL_TOKENS positions; a word longer than that is a slice alone."""
    first = 0
    while first < len(ends):
        fitting = bisect.bisect_right(
            range(first + 1, len(ends) + 1),
            EVAL_TOKENS,
            key=lambda last: (last - first) * (ends[last - 1] + 1),
        )
        last = first + max(fitting, 1)
        yield first, last
        first = last


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
