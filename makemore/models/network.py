"""What the neural families share: a net that reads a word from its start, and how it is trained.

A family's `Net` maps tokens (B, T), each row a word from its start boundary, to logits (B, T, V): the
prediction at position t may read tokens 0..t only. Training is minibatch AdamW with a linear warm-up
and a cosine decay, seeded, on random batches of train words; every `eval_every` steps the exact val
NLL (scoring.py's, the same as the count models') is measured and the best weights kept.

Several processes may train one net (makemore/distributed.py): each draws the same batch and runs its share
of the rows, their gradients averaged, so that the steps are those of one process with the whole batch.

No compute goes to padding. A batch is packed: rows of whole train words one after another, each token
given its position in its word, so that a net reads each word as if it were alone. A net whose state runs
along its row (the recurrent one) takes a word a row instead, and skips the padding itself.
"""

import bisect
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, StrictInt, model_validator
from torch import nn

from makemore import MakemoreError, ParamError
from makemore.artifacts import Checkpoint
from makemore.contexts import Positions, from_word_start, padded_words
from makemore.distributed import Ranks, ranks
from makemore.interface import FamilyConfig, FitData, Model, Training
from makemore.params import Seed
from makemore.scoring import total_log_likelihood
from makemore.steps import MAX_CURVE_POINTS, Steps, machine_memory, too_large_lr, training_device
from makemore.vocab import BOUNDARY, Vocabulary

IGNORED = -1  # the target after a word's end, where a batch of words is padded
EVAL_TOKENS = 1 << 16  # positions (words x their width) run through the net at once when predicting


class NetworkConfig(FamilyConfig):
    """The training params of every net; the defaults suit a list of names (tens of thousands of short words)."""

    steps: StrictInt = Field(800, ge=1, le=10_000_000)  # AdamW steps
    batch_size: StrictInt = Field(256, ge=1, le=1 << 16)  # train words per step, drawn at random
    lr: float = Field(0.005, gt=0, le=10)  # the peak learning rate, reached after the warm-up
    warmup: StrictInt = Field(50, ge=0)  # steps of linear warm-up from 0 to lr
    min_lr: float = Field(0.0003, ge=0)  # the learning rate the cosine decay ends at, on the last step
    # AdamW's, on the weight matrices and embeddings (not biases and norms)
    weight_decay: float = Field(0.1, ge=0)
    eval_every: StrictInt = Field(100, ge=1)  # steps between exact val NLLs; the best weights are kept
    seed: Seed = 2147483647  # initial weights, batches and dropout
    device: Literal["cpu", "auto"] = "cpu"  # auto: a GPU when there is one (results differ from the CPU's)
    # data-parallel training, each process a share of every batch (makemore/distributed.py): processes on each
    # machine (auto: one per GPU), and machines
    processes: Annotated[StrictInt, Field(ge=1, le=1024)] | Literal["auto"] = 1
    nodes: StrictInt = Field(1, ge=1, le=1024)

    @model_validator(mode="after")
    def schedule_fits(self) -> "NetworkConfig":
        if self.warmup > self.steps:
            raise ValueError(f"warmup = {self.warmup} is more than steps = {self.steps}")
        if self.min_lr > self.lr:
            raise ValueError(f"min_lr = {self.min_lr:g} is more than lr = {self.lr:g}")
        if self.lr * self.weight_decay >= 1:
            raise ValueError(
                f"weight_decay = {self.weight_decay:g} is too large for lr = {self.lr:g}: AdamW's decay "
                f"multiplies every weight by 1 - lr * weight_decay = {1 - self.lr * self.weight_decay:g} a "
                "step; keep lr * weight_decay below 1"
            )
        if self.steps // self.eval_every > MAX_CURVE_POINTS:
            raise ValueError(
                f"eval_every = {self.eval_every} measures val {self.steps // self.eval_every + 1:,} times in "
                f"steps = {self.steps}: at most {MAX_CURVE_POINTS + 1:,} (a bounded curve); raise eval_every"
            )
        return self


class Net(nn.Module):
    """What a family's net is: built from its config, the vocabulary size V and the context length (the most
    tokens it reads before a prediction); `forward` takes tokens (B, T), each row a word from its start
    boundary, and returns logits (B, T, V), where position t reads tokens 0..t only (a whole-word net at
    most context_length of them, T <= context_length; a net of windows, as the MLP, the last ones).

    In training, `positions` (B, T) may give each token's position in its word, 0 at its start boundary:
    then a row holds several words one after another, and position t reads only the tokens of its own word.
    A net that cannot read such rows sets `reads_packed_rows` to False and is given a word a row."""

    reads_packed_rows = True

    def __init__(self, config: NetworkConfig, vocab_size: int, context_length: int):
        super().__init__()
        self.context_length = context_length

    def forward(self, tokens: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError


def within_word(positions: torch.Tensor) -> torch.Tensor:
    """(B, T) positions of tokens in their words -> (B, T, T): [b, t, s] is True where position t may read the
    token at s, that is t itself and the tokens before it back to its word's start (causal within each word)."""
    columns = torch.arange(positions.shape[1], device=positions.device)
    back = columns[:, None] - columns[None, :]  # (T, T): how far the key is before the query
    return (back >= 0) & (back <= positions[:, :, None])  # (B, T, T)


def near_uniform(head: nn.Linear) -> None:
    """Shrink the layer that gives the logits, so that the first predictions are near uniform (part 3)."""
    with torch.no_grad():
        head.weight.mul_(0.1)
        if head.bias is not None:
            head.bias.zero_()


def learning_rate(config: NetworkConfig, step: int) -> float:
    """Linear warm-up to lr over `warmup` steps, then a cosine decay towards min_lr, which it would reach at
    step `steps`, one after the last update."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(config.steps - config.warmup, 1)
    return config.min_lr + (config.lr - config.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


class Network(Model):
    """A family whose model is a torch net: it gives its `Config` and its `Net`."""

    Config: type[NetworkConfig]
    Net: type[Net]

    def __init__(self, config: NetworkConfig, vocab: Vocabulary, net: Net):
        super().__init__(config, vocab)
        self.net = net.eval()

    @classmethod
    def context_length_for(cls, config: NetworkConfig, max_len: int) -> int:
        """By default a whole word of up to `max_len` characters, its start boundary included."""
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
        if (
            not 2 <= context_length <= 1 << 16
            or cls.context_length_for(config, context_length - 1) != context_length
        ):
            raise ValueError(f"context length {context_length}")  # e.g. an MLP's must be its config's
        net = cls.Net(config, vocab.size, context_length)
        for weights in tensors.values():
            if weights.dtype != torch.float32 or not torch.isfinite(weights).all():
                raise ValueError("weights that are not finite float32")
        net.load_state_dict(tensors, strict=True)  # a RuntimeError for a missing, extra or misshapen tensor
        return cls(config, vocab, net)

    def log_probs(self, contexts: torch.Tensor) -> torch.Tensor:
        words, last = self.words_of(contexts)
        return self.word_log_probs(words, last, torch.arange(len(words)), last)

    def log_probs_of(self, contexts: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """The net reads each distinct word once, from its start, and answers for every context that is a prefix
        of it: the cost of the words, not of the positions (a word of n tokens is n contexts).

        Each context followed by its token is a sequence; sorted, with the end padded below every token, a
        sequence comes just before the sequences it is a prefix of, so it is read with the first sequence
        after it that is a prefix of none.
        """
        words, last = self.words_of(contexts)
        rows, columns = torch.arange(len(words)), torch.arange(words.shape[1] + 1)
        sequences = torch.cat([words, words[:, :1]], dim=1)  # (B, T + 1)
        sequences[rows, last + 1] = tokens.long()
        sequences = torch.where(columns <= (last + 1)[:, None], sequences, IGNORED)
        distinct, inverse = torch.unique(sequences, dim=0, return_inverse=True)
        covered = ((distinct == distinct.roll(-1, 0)) | (distinct == IGNORED)).all(1)
        covered[-1] = False
        first_uncovered = torch.where(covered, len(distinct), torch.arange(len(distinct)))
        reader = first_uncovered.flip(0).cummin(0).values.flip(0)
        readers, reader_of = torch.unique(reader, return_inverse=True)
        # (R, T): the IGNORED after a word read as the boundary
        inputs = distinct[readers, :-1].clamp(min=BOUNDARY)
        ends = (distinct[readers] != IGNORED).sum(1) - 2
        log_probs = self.word_log_probs(inputs, ends, reader_of[inverse], last)  # (B, V)
        return log_probs.gather(1, tokens.long().unsqueeze(1)).squeeze(1)

    @torch.no_grad()
    def word_log_probs(
        self, words: torch.Tensor, ends: torch.Tensor, rows: torch.Tensor, columns: torch.Tensor
    ) -> torch.Tensor:
        """(B, T) words from their start and the last position to read in each -> (N, V) log-probabilities at
        the N positions (rows, columns). The words are read in chunks of similar length, each as wide as its
        longest and of at most EVAL_TOKENS positions (or one word): a long word costs its own length only."""
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

    def words_of(self, contexts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The contexts from their word's start, and where each ends. A context without a boundary is a word
        longer than the context: a net of whole words refuses it (a window would read it without its start)."""
        if self.max_word_length is not None and not (contexts == BOUNDARY).any(1).all():
            raise MakemoreError(
                f"a word longer than the {self.max_word_length} characters this model reads whole "
                "(data.max_len when it was trained)"
            )
        return from_word_start(contexts)

    def in_eval_mode(self) -> "Network":
        """The model with its net in eval mode: no dropout."""
        self.net.eval()
        return self

    @classmethod
    def fit(cls, config: NetworkConfig, data: FitData) -> Training:
        device = training_device(config)
        batches = Batches.of(data.train.whole())
        context_length = cls.context_length_for(config, data.max_len)
        check_memory(cls.Net, config, data.vocab.size, context_length, batches.width, device)
        torch.manual_seed(config.seed)
        model = cls(config, data.vocab, cls.Net(config, data.vocab.size, context_length).to(device))
        run = Run.start(config, model.net, data.checkpoint, ranks())
        run.train(config, model, batches, data.val.whole(), data.checkpoint)
        if run.best["step"] == 0:
            raise ParamError(
                f"lr = {config.lr:g}: the val NLL never fell below the untrained net's ({run.best['val']:.4f} at "
                "step 0): nothing was learned, so no model is written; try a smaller lr"
            )
        model.net.load_state_dict(run.best["weights"])
        model.net.cpu()
        summary = {
            "best_step": run.best["step"],
            "best_val_nll": round(run.best["val"], 6),
            "parameters": sum(p.numel() for p in model.net.parameters()),
        }
        return Training(model.in_eval_mode(), run.curve, summary, run.seconds)


class Windowed(Network):
    """A family whose net reads a window of the last `context` characters (its config's) before each position,
    whatever the word's length: the window before a word's start is the boundary."""

    @classmethod
    def context_length_for(cls, config: NetworkConfig, max_len: int) -> int:
        return config.context

    @property
    def max_word_length(self) -> int | None:
        return None  # any word


@dataclass
class Batches:
    """The train words, and random batches of them with as many tokens as `size` words have on average: rows
    of whole words one after another, as wide as the longest word (packed), or a word a row, padded."""

    inputs: torch.Tensor  # (W, T): each word from its start boundary, padded with the boundary
    targets: torch.Tensor  # (W, T): each word's next tokens, up to its end boundary, IGNORED after
    characters: torch.Tensor  # (W,): each word's length
    stream: Positions  # the words one after another, then a row's width of IGNORED targets
    starts: torch.Tensor  # (W,): where each word starts in the stream
    tokens: int  # predicted positions of all the words: their characters and their ends

    @classmethod
    def of(cls, train: Positions) -> "Batches":
        inputs, targets, characters = padded_words(train, fill=IGNORED)
        tail = int(characters.max()) + 1
        stream = Positions(
            torch.cat([train.stream, train.stream.new_full((tail,), BOUNDARY)]),
            torch.cat([train.targets, train.targets.new_full((tail,), IGNORED)]),
            torch.cat([train.offsets, train.offsets.new_zeros(tail)]),
        )
        starts = (train.offsets == 0).nonzero().squeeze(1)
        return cls(inputs, targets, characters, stream, starts, len(train))

    @property
    def width(self) -> int:
        return int(self.characters.max()) + 1

    def draw(
        self, size: int, generator: torch.Generator, device: torch.device, packed: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Inputs and targets (B, T), and each input's position in its word (None: a word a row)."""
        if not packed:
            rows = torch.randint(len(self.inputs), (size,), generator=generator)
            width = int(self.characters[rows].max()) + 1
            return self.inputs[rows, :width].to(device), self.targets[rows, :width].to(device), None
        rows = max(1, round(size * self.tokens / len(self.starts) / self.width))
        first = self.starts[torch.randint(len(self.starts), (rows,), generator=generator)]
        at = first[:, None] + torch.arange(self.width)  # (B, T): a row from a word's start
        inputs, targets = self.stream.stream[at].long(), self.stream.targets[at].long()
        return inputs.to(device), targets.to(device), self.stream.offsets[at].long().to(device)


@dataclass
class Run:
    """One training run of a net: its optimizer and random batches, and what it measured so far. A checkpoint
    holds all of it, with the random state of dropout, so that a run resumed from one goes on as if it had
    never stopped."""

    net: Net
    optimizer: torch.optim.Optimizer
    batches: torch.Generator  # the same on every rank: each draws the whole batch and takes its share
    ranks: Ranks  # the processes training the net together, or one
    trained: nn.Module  # the net, or with several processes its DistributedDataParallel wrapper
    step: int = 0  # the step to start from (a checkpoint's, set when one is saved)
    curve: list[dict[str, float]] = field(default_factory=list)
    best: dict = field(default_factory=lambda: {"val": math.inf})  # val NLL, step and weights of the best
    seconds: list[float] = field(default_factory=list)  # wall time of each curve row since the run began

    @classmethod
    def start(cls, config: NetworkConfig, net: Net, checkpoint: Checkpoint | None, ranks: Ranks) -> "Run":
        decayed = parameter_groups(net, config.weight_decay)
        optimizer = torch.optim.AdamW(decayed, lr=config.lr, betas=(0.9, 0.99), fused=True)
        trained = net
        if ranks.world > 1:
            torch.manual_seed(config.seed + ranks.rank)  # each rank its own dropout; the weights are rank 0's
            trained = nn.parallel.DistributedDataParallel(net)
        run = cls(net, optimizer, torch.Generator().manual_seed(config.seed), ranks, trained)
        if checkpoint and (saved := checkpoint.load()):
            run.resume(saved)
        return run

    def train(
        self,
        config: NetworkConfig,
        model: Network,
        batches: Batches,
        val: Positions,
        checkpoint: Checkpoint | None,
    ) -> None:
        """Steps `self.step`..`config.steps`: a row of the curve every `eval_every` steps and at the last; a
        checkpoint after each row's update."""
        device = next(self.net.parameters()).device
        started = time.perf_counter() - (self.seconds[-1] if self.seconds else 0.0)
        train_sum, train_tokens = 0.0, 0
        val_share = val.share(self.ranks.rank, self.ranks.world)
        steps = Steps(
            config.steps,
            too_large_lr(config.lr),
            start=self.step,
            shown=self.ranks.main,
            every=config.eval_every,
        )
        for step in steps:
            inputs, targets, positions = batches.draw(
                config.batch_size, self.batches, device, self.net.reads_packed_rows
            )
            tokens = int((targets != IGNORED).sum())  # of the whole batch
            mine = self.ranks.share(len(inputs))
            logits = self.trained.train()(inputs[mine], None if positions is None else positions[mine])
            # the mean over the whole batch of this rank's share, times the ranks: their gradients' mean is the
            # whole batch's, as with one process
            token_losses = F.cross_entropy(
                logits.view(-1, logits.shape[-1]),
                targets[mine].reshape(-1),
                ignore_index=IGNORED,
                reduction="sum",
            )
            loss = token_losses / tokens * self.ranks.world
            batch_loss = self.ranks.sum(loss.detach().clone()) / self.ranks.world
            steps.check(batch_loss)
            train_sum, train_tokens = train_sum + batch_loss.item() * tokens, train_tokens + tokens
            measured = step % config.eval_every == 0 or step == config.steps
            if measured:  # train: the mean batch loss since the last row
                with steps.measuring():
                    row = self.measure(
                        step,
                        model,
                        val_share,
                        len(val),
                        train_sum / train_tokens,
                        time.perf_counter() - started,
                    )
                steps.show(row)
                train_sum, train_tokens = 0.0, 0
            if step == config.steps:
                break
            self.update(loss, learning_rate(config, step))
            if checkpoint and measured:  # no train loss is summed since the row
                self.step = step + 1
                snapshot = self.snapshot()
                if self.ranks.main:
                    checkpoint.save(snapshot)

    def measure(
        self,
        step: int,
        model: Network,
        val_share: Positions,
        val_tokens: int,
        train_nll: float,
        seconds: float,
    ) -> dict:
        """Measure the val NLL, each rank on its share of the words, and keep the best weights."""
        log_likelihood = total_log_likelihood(model.in_eval_mode(), val_share)[0] if len(val_share) else 0.0
        val_nll = -self.ranks.sum(torch.tensor(log_likelihood, dtype=torch.float64)).item() / val_tokens
        self.curve.append({"step": step, "train": train_nll, "val": val_nll})
        self.seconds.append(seconds)
        if step == 0 or val_nll < self.best["val"]:
            weights = {name: tensor.detach().clone() for name, tensor in self.net.state_dict().items()}
            self.best = {"val": val_nll, "step": step, "weights": weights}
        return self.curve[-1]

    def update(self, loss: torch.Tensor, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

    def snapshot(self) -> dict:
        """The run's state, the same on every rank but for dropout's random state: rank 0's, with every rank's."""
        random = {"batches": self.batches.get_state(), "torch": torch.get_rng_state()}
        if self.ranks.world > 1:
            random["ranks"] = self.ranks.gather(torch.get_rng_state())
        if torch.cuda.is_available():
            random["cuda"] = torch.cuda.get_rng_state_all()
        states = {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(), "random": random}
        return states | {"step": self.step, "curve": self.curve, "best": self.best, "seconds": self.seconds}

    def resume(self, saved: dict) -> None:
        self.net.load_state_dict(saved["net"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.batches.set_state(saved["random"]["batches"])
        random = saved["random"]
        # a copy of the rank's row: torch.set_rng_state of a view into the stacked states crashes
        torch.set_rng_state(
            random["ranks"][self.ranks.rank].clone() if self.ranks.world > 1 else random["torch"]
        )
        if "cuda" in saved["random"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(saved["random"]["cuda"])
        self.step, self.curve, self.best, self.seconds = (
            saved["step"],
            saved["curve"],
            saved["best"],
            saved["seconds"],
        )


def check_memory(
    net_class: type[Net], config: NetworkConfig, vocab_size: int, context_length: int, width: int, device
) -> None:
    """Refuse, before any is allocated, a net whose training would not fit in the memory of the machine (or of
    its GPU); warn when it would take more than half.

    Its weights count 5 times (the weights, their gradients, AdamW's two moments, the best ones kept); then
    the larger of the activations that a batch of the longest train words keeps for the backward pass and
    those of measuring val, which reads up to EVAL_TOKENS positions at once (at as many bytes a position: an
    upper bound, as nothing is kept for a backward pass there). A batch is blamed only when its activations
    are the largest part; otherwise the net's largest size.
    """
    weights, activations = training_bytes(net_class, config, vocab_size, context_length, width)
    evaluation = activations * EVAL_TOKENS // (config.batch_size * width)  # at the batch's bytes per position
    needed = 5 * weights + max(activations, evaluation)
    gpu = device.type == "cuda"
    memory = torch.cuda.get_device_properties(device).total_memory if gpu else machine_memory()
    if needed <= memory // 2:
        return
    estimate = (
        f"training would need about {needed / 1e9:.1f} GB of memory ({weights // 4:,} weights, with their "
        f"gradients, AdamW's moments and the best ones: {5 * weights / 1e9:.1f} GB; the activations of a batch: "
        f"{activations / 1e9:.1f} GB, or of {EVAL_TOKENS:,} positions read at once to measure val: "
        f"{evaluation / 1e9:.1f} GB), more than {'half of ' if needed <= memory else ''}the "
        f"{memory / 1e9:.1f} GB of {'this GPU' if gpu else 'this machine'}"
    )
    if needed <= memory:
        print(f"warning: {estimate}", file=sys.stderr)
        return
    sizes = {
        key: value for key, value in config if key not in NetworkConfig.model_fields and type(value) is int
    }
    batch_to_blame = activations >= evaluation and activations > 5 * weights  # or the net's size
    blamed = "batch_size" if batch_to_blame or not sizes else max(sizes, key=sizes.get)
    raise ParamError(f"{blamed} = {getattr(config, blamed)} is too large: {estimate}")


def training_bytes(
    net_class: type[Net], config: NetworkConfig, vocab_size: int, context_length: int, width: int
) -> tuple[int, int]:
    """The bytes of a net's weights, and of the activations one batch of words `width` tokens wide keeps for
    the backward pass: measured on torch's meta device, which allocates nothing, by saved_tensors_hooks."""
    activations, counted = 0, set()

    # once each, and not the weights (a GRU keeps them each step)
    def kept(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal activations
        if (
            id(tensor) not in counted
            and id(tensor if tensor._base is None else tensor._base) not in weight_ids
        ):
            activations += tensor.numel() * tensor.element_size()
            counted.add(id(tensor))  # the graph holds the tensor until the pass is over: its id is not reused
        return tensor

    with torch.device("meta"):
        net = net_class(config, vocab_size, context_length).train()
        weight_ids = {id(weights) for weights in net.parameters()}
        with torch.autograd.graph.saved_tensors_hooks(kept, lambda tensor: tensor):
            net(torch.zeros(config.batch_size, width, dtype=torch.long))  # (B, T, V)
    return sum(p.numel() * p.element_size() for p in net.parameters()), activations


def length_chunks(ends: list[int]) -> Iterator[tuple[int, int]]:
    """Slices [first, last) of words sorted by length (`ends`, the last position of each) whose words, each
    padded to the longest of its slice, hold at most EVAL_TOKENS positions; a longer word is a slice alone."""
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


def parameter_groups(net: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on matrices and embeddings only, as in GPT-2: not on biases and norm gains."""
    params = [p for p in net.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
