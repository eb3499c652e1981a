"""How a net learns: minibatch AdamW with a linear warm-up and a cosine decay, seeded, on random batches of train
words; every `eval_every` steps the exact val NLL (scoring.py's, the same as the count models') is measured and
the best weights kept. With `patience`, training stops once that many measurements in a row have not beaten the
best: it trains as long as it pays, up to `steps`.

Several processes may train one net (makemore/models/distributed.py): each draws the same batch and runs its share
of the rows, their gradients averaged, so that the steps are those of one process with the whole batch.

No compute goes to padding. A batch is packed: rows of whole train words one after another, each token
given its position in its word, so that a net reads each word as if it were alone. A net whose state runs
along its row (the recurrent one) takes a word a row instead, and skips the padding itself.

What a net is, and how it predicts, is makemore/models/network.py's.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, SerializerFunctionWrapHandler, StrictInt, model_serializer, model_validator
from torch import nn

from makemore import ParamError
from makemore.models.contexts import EVAL_TOKENS, IGNORED, Positions, padded_words
from makemore.models.distributed import Ranks, ranks
from makemore.models.interface import FamilyConfig, FitData, Model, Training
from makemore.models.scoring import total_log_likelihood
from makemore.models.steps import (
    MAX_CURVE_POINTS,
    Steps,
    machine_memory,
    too_large_lr,
    too_much_memory,
    training_device,
)
from makemore.params import Seed
from makemore.tensorfiles import Checkpoint
from makemore.vocab import BOUNDARY

MAX_STEPS = 10_000_000  # steps of one run at most, given or from epochs


class TrainingConfig(FamilyConfig):
    """The training params of every net; the defaults suit a list of names (tens of thousands of short words)."""

    steps: StrictInt = Field(800, ge=1, le=MAX_STEPS)  # AdamW steps
    # passes over the train words instead of steps: steps = epochs x train words / batch_size, rounded up, so that
    # a larger word list gets more steps
    epochs: float | None = Field(None, gt=0, le=1_000_000)
    batch_size: StrictInt = Field(256, ge=1, le=1 << 16)  # train words per step, drawn at random
    lr: float = Field(0.005, gt=0, le=10)  # the peak learning rate, reached after the warm-up
    warmup: StrictInt = Field(50, ge=0)  # steps of linear warm-up from 0 to lr
    min_lr: float = Field(0.0003, ge=0)  # the learning rate the cosine decay ends at, on the last step
    # AdamW's, on the weight matrices and embeddings (not biases and norms)
    weight_decay: float = Field(0.1, ge=0)
    eval_every: StrictInt = Field(100, ge=1)  # steps between exact val NLLs; the best weights are kept
    # stop once this many val NLLs in a row have not beaten the best one (null: train all the steps)
    patience: StrictInt | None = Field(None, ge=1)
    # seconds of training after which it stops at the next val measurement (null: no limit); the model then
    # depends on the machine's speed, so a rerun or another machine may stop at another step
    budget: float | None = Field(None, gt=0, le=1e7)
    seed: Seed = 2147483647  # initial weights, batches and dropout
    device: Literal["cpu", "auto"] = "cpu"  # auto: a GPU when there is one (results differ from the CPU's)
    # data-parallel training, each process a share of every batch (makemore/models/distributed.py): processes on each
    # machine (auto: one per GPU), and machines
    processes: Annotated[StrictInt, Field(ge=1, le=1024)] | Literal["auto"] = 1
    nodes: StrictInt = Field(1, ge=1, le=1024)
    # seconds each machine waits for the others to join (nodes > 1); it leaves the net as it is, so the model file
    # does not hold it
    wait: StrictInt = Field(300, ge=1, le=86_400, exclude=True)

    @model_serializer(mode="wrap")
    def without_unused_steps(self, dump: SerializerFunctionWrapHandler) -> dict:
        """A config given epochs has no steps of its own: its dump (a model file's config) leaves the default out,
        so that it reads back."""
        dumped = dump(self)
        if self.epochs is not None:
            dumped.pop("steps")
        return dumped

    @model_validator(mode="after")
    def schedule_fits(self) -> "TrainingConfig":
        if self.epochs is not None:
            if "steps" in self.model_fields_set:
                raise ValueError(f"give steps = {self.steps} or epochs = {self.epochs:g}, not both")
            return self  # checked once the train split's words give the steps (steps_for)
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


def steps_for(config: TrainingConfig, words: int) -> TrainingConfig:
    """The config with `steps` set from `epochs` passes over `words` train words (itself when steps are given)."""
    if config.epochs is None:
        return config
    steps = math.ceil(config.epochs * words / config.batch_size)
    given = (
        f"epochs = {config.epochs:g} of {words:,} train words at batch_size = {config.batch_size} is "
        f"steps = {steps:,}"
    )
    if steps > MAX_STEPS:
        raise ParamError(f"{given}: more than {MAX_STEPS:,}")
    try:
        return config.model_copy(update={"steps": steps, "epochs": None}).schedule_fits()
    except ValueError as error:
        raise ParamError(f"{given}: {error}") from None


def learning_rate(config: TrainingConfig, step: int) -> float:
    """Linear warm-up to lr over `warmup` steps, then a cosine decay towards min_lr, which it would reach at
    step `steps`, one after the last update."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(config.steps - config.warmup, 1)
    return config.min_lr + (config.lr - config.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


def train(
    config: TrainingConfig,
    data: FitData,
    build_net: Callable[[], nn.Module],
    model_of: Callable[[nn.Module], Model],
) -> Training:
    """Train a net: `build_net` makes it untrained, `model_of` makes the family's model around it (what measures
    val). The weights of the best val NLL are the model's."""
    # the data, and where to train
    device = training_device(config.device)
    batches = Batches.of(data.train.whole())
    config = steps_for(config, len(batches.starts))
    # the net, once its training is known to fit in memory
    check_memory(build_net, config, batches.width, device)
    torch.manual_seed(config.seed)
    net = build_net().to(device)
    model = model_of(net)
    # Start the run, or resume it from its checkpoint.
    run = Run.start(config, net, data.checkpoint, ranks())
    run.train(config, model, batches, data.val.whole(), data.checkpoint)
    if run.best["step"] == 0:
        raise ParamError(
            f"lr = {config.lr:g}: the val NLL never fell below the untrained net's ({run.best['val']:.4f} at "
            "step 0): nothing was learned, so no model is written; try a smaller lr"
        )
    # the best weights, on the CPU
    net.load_state_dict(run.best["weights"])
    net.cpu().eval()
    summary = {
        "best_step": run.best["step"],
        "best_val_nll": round(run.best["val"], 6),
        "parameters": sum(p.numel() for p in net.parameters()),
    }
    return Training(model, run.curve, summary, run.seconds)


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

    net: nn.Module  # a family's Net
    optimizer: torch.optim.Optimizer
    random_batches: torch.Generator  # the same on every rank: each draws the whole batch and takes its share
    ranks: Ranks  # the processes training the net together, or one
    trained: nn.Module  # the net, or with several processes its DistributedDataParallel wrapper
    step: int = 0  # the step to start from (a checkpoint's, set when one is saved)
    curve: list[dict[str, float]] = field(default_factory=list)
    best: dict = field(default_factory=lambda: {"val": math.inf})  # val NLL, step and weights of the best
    seconds: list[float] = field(default_factory=list)  # wall time of each curve row since the run began

    @classmethod
    def start(
        cls, config: TrainingConfig, net: nn.Module, checkpoint: Checkpoint | None, ranks: Ranks
    ) -> "Run":
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
        config: TrainingConfig,
        model: Model,
        batches: Batches,
        val: Positions,
        checkpoint: Checkpoint | None,
    ) -> None:
        """Steps `self.step`..`config.steps`, or fewer (`ends`): a row of the curve every `eval_every` steps and at
        the last; a checkpoint after each row's update."""
        device = next(self.net.parameters()).device
        started = time.perf_counter() - (self.seconds[-1] if self.seconds else 0.0)
        train_sum, train_tokens = 0.0, 0
        steps = Steps(config.steps, too_large_lr(config.lr), self.step, self.ranks.main, config.eval_every)
        for step in steps:
            # forward: this rank's share of a random batch, and its loss
            loss, batch_loss, tokens = self.forward(config, batches, device)
            steps.check(batch_loss)
            train_sum, train_tokens = train_sum + batch_loss.item() * tokens, train_tokens + tokens
            # measure val every eval_every steps and at the last; the train NLL of a row is the mean batch loss
            # since the row before
            measured = step % config.eval_every == 0 or step == config.steps
            if measured:
                with steps.measuring():
                    row = self.measure(
                        step, model, val, train_sum / train_tokens, time.perf_counter() - started
                    )
                steps.show(row)
                train_sum, train_tokens = 0.0, 0
            if self.ends(config, step, measured):
                break
            # backward and update
            self.update(loss, learning_rate(config, step))
            # checkpoint right after a row, when no train loss has been summed since it
            if checkpoint and measured:
                self.step = step + 1
                snapshot = self.snapshot()
                if self.ranks.main:
                    checkpoint.save(snapshot)

    def forward(
        self, config: TrainingConfig, batches: Batches, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor, int]:
        """A random batch through the net: this rank's loss to step on, the whole batch's mean loss, and its
        predicted tokens."""
        inputs, targets, positions = batches.draw(
            config.batch_size, self.random_batches, device, self.net.reads_packed_rows
        )
        tokens = int((targets != IGNORED).sum())  # of the whole batch
        mine = self.ranks.share(len(inputs))
        logits = self.trained.train()(inputs[mine], None if positions is None else positions[mine])
        # The sum over this rank's share is divided by the whole batch's tokens and multiplied by the ranks, so that
        # the mean of the ranks' gradients is the whole batch's gradient, as with one process.
        token_losses = F.cross_entropy(
            logits.view(-1, logits.shape[-1]),
            targets[mine].reshape(-1),
            ignore_index=IGNORED,
            reduction="sum",
        )
        loss = token_losses / tokens * self.ranks.world
        batch_loss = self.ranks.sum(loss.detach().clone()) / self.ranks.world
        return loss, batch_loss, tokens

    def measure(self, step: int, model: Model, val: Positions, train_nll: float, seconds: float) -> dict:
        """Measure the val NLL, each rank on its share of the words, and keep the best weights."""
        val_share = val.share(self.ranks.rank, self.ranks.world)
        self.net.eval()  # no dropout
        log_likelihood = total_log_likelihood(model, val_share)[0] if len(val_share) else 0.0
        val_nll = -self.ranks.sum(torch.tensor(log_likelihood, dtype=torch.float64)).item() / len(val)
        self.curve.append({"step": step, "train": train_nll, "val": val_nll})
        self.seconds.append(seconds)
        if step == 0 or val_nll < self.best["val"]:
            weights = {name: tensor.detach().clone() for name, tensor in self.net.state_dict().items()}
            self.best = {"val": val_nll, "step": step, "weights": weights}
        return self.curve[-1]

    def ends(self, config: TrainingConfig, step: int, measured: bool) -> bool:
        """Whether training ends at `step`: the last one, or a measured one once val has stopped improving for
        `patience` rows or the `budget` of seconds is spent (not before the first update)."""
        if step == config.steps:
            return True
        return measured and (self.stalled(config.patience) or step > 0 and self.out_of_time(config.budget))

    def stalled(self, patience: int | None) -> bool:
        """Whether the last `patience` val NLLs all failed to beat the best one: training no longer pays."""
        return patience is not None and sum(row["step"] > self.best["step"] for row in self.curve) >= patience

    def out_of_time(self, budget: float | None) -> bool:
        """Whether the run has trained for `budget` seconds, in any of its processes, so that all stop together."""
        if budget is None:
            return False
        over = torch.tensor(float(self.seconds[-1] >= budget))
        return self.ranks.sum(over).item() > 0

    def update(self, loss: torch.Tensor, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

    def snapshot(self) -> dict:
        """The run's state, the same on every rank but for dropout's random state: rank 0's, with every rank's."""
        random = {"batches": self.random_batches.get_state(), "torch": torch.get_rng_state()}
        if self.ranks.world > 1:
            random["ranks"] = self.ranks.gather(torch.get_rng_state())
        if torch.cuda.is_available():
            random["cuda"] = torch.cuda.get_rng_state_all()
        states = {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(), "random": random}
        return states | {"step": self.step, "curve": self.curve, "best": self.best, "seconds": self.seconds}

    def resume(self, saved: dict) -> None:
        self.net.load_state_dict(saved["net"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.random_batches.set_state(saved["random"]["batches"])
        random = saved["random"]
        # torch.set_rng_state crashes on a view into the stacked states, so it gets a copy of this rank's row
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
    build_net: Callable[[], nn.Module], config: TrainingConfig, width: int, device: torch.device
) -> None:
    """Refuse, before any is allocated, a net whose training would not fit in the memory of the machine (or of
    its GPU); warn when it would take more than half.

    Its weights count 5 times (the weights, their gradients, AdamW's two moments, the best ones kept); then
    the larger of the activations that a batch of the longest train words keeps for the backward pass and
    those of measuring val, which reads up to EVAL_TOKENS positions at once (at as many bytes a position: an
    upper bound, as nothing is kept for a backward pass there). A batch is blamed only when its activations
    are the largest part; otherwise the net's largest size.
    """
    weights, activations = training_bytes(build_net, config.batch_size, width)
    evaluation = activations * EVAL_TOKENS // (config.batch_size * width)  # at the batch's bytes per position
    needed = 5 * weights + max(activations, evaluation)
    gpu = device.type == "cuda"
    memory = torch.cuda.get_device_properties(device).total_memory if gpu else machine_memory()
    estimate = (
        f"training would need about {needed / 1e9:.1f} GB of memory ({weights // 4:,} weights, with their "
        f"gradients, AdamW's moments and the best ones: {5 * weights / 1e9:.1f} GB; the activations of a batch: "
        f"{activations / 1e9:.1f} GB, or of {EVAL_TOKENS:,} positions read at once to measure val: "
        f"{evaluation / 1e9:.1f} GB)"
    )
    too_much = too_much_memory(needed, memory, estimate, "this GPU" if gpu else "this machine")
    if too_much is None:
        return
    sizes = {
        key: value for key, value in config if key not in TrainingConfig.model_fields and type(value) is int
    }
    batch_to_blame = activations >= evaluation and activations > 5 * weights  # or the net's size
    blamed = "batch_size" if batch_to_blame or not sizes else max(sizes, key=sizes.get)
    raise ParamError(f"{blamed} = {getattr(config, blamed)} is too large: {too_much}")


def training_bytes(build_net: Callable[[], nn.Module], batch_size: int, width: int) -> tuple[int, int]:
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
        net = build_net().train()
        weight_ids = {id(weights) for weights in net.parameters()}
        with torch.autograd.graph.saved_tensors_hooks(kept, lambda tensor: tensor):
            net(torch.zeros(batch_size, width, dtype=torch.long))  # (B, T, V)
    return sum(p.numel() * p.element_size() for p in net.parameters()), activations


def parameter_groups(net: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on matrices and embeddings only, as in GPT-2: not on biases and norm gains."""
    params = [p for p in net.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
