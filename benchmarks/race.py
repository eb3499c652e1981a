"""The race: the default Transformer trained the straightforward way and the pipeline's way, on the default data.

    python benchmarks/race.py      (part of `make bench`; prints a table, asserts nothing)

The straightforward loop is makemore.py's recipe, written here in its style: padded words from a DataLoader
with a random sampler, batch 32, AdamW at a constant lr 5e-4 (weight decay 0.01, betas 0.9 and 0.99), and
every 500 steps a loss estimated on 10 batches of 100 train and val words, on its clock. The pipeline's is
`Transformer.fit` with params.yaml's `transformer` instance: its batch, warm-up and decay, and its exact val
NLL every `eval_every` steps, on its clock too. Both train the same net (the instance's architecture, seed
and dropout). The target is the exact val NLL the loop reaches after 4,000 steps, measured off its clock
every 250 steps; each recipe's time is the wall time until its exact val NLL first reaches it. With
MAKEMORE_BENCH_TINY=1 (the tests' size) it takes the first TINY_WORDS words, and each recipe trains 20 steps.
"""

import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, RandomSampler

from makemore.artifacts import read_words
from makemore.models import instance_config
from makemore.models.contexts import Positions
from makemore.models.interface import FitData
from makemore.models.scoring import total_log_likelihood
from makemore.models.transformer import Transformer, TransformerNet
from makemore.params import load_params
from makemore.splits import split_words
from makemore.vocab import Vocabulary

ROOT = Path(__file__).resolve().parents[1]
# The tests' size: seconds, not minutes (tests/test_bench.py).
TINY = os.environ.get("MAKEMORE_BENCH_TINY") == "1"
TINY_WORDS = 300
TINY_TRAINING = {"steps": 20, "batch_size": 32, "warmup": 5, "eval_every": 10}  # the pipeline's, in tiny mode
LOOP_STEPS, BATCH, LR = (20 if TINY else 4000), 32, 5e-4
MEASURE_EVERY = 10 if TINY else 250  # steps between the loop's exact val NLLs, off its clock
ESTIMATE_EVERY = 10 if TINY else 500  # steps between the loop's estimated losses, on its clock


class WordDataset(Dataset):
    """makemore.py's CharDataset: x is the word after the start token, y the word and its end, then -1."""

    def __init__(self, vocab: Vocabulary, words: list[str], block: int):
        self.vocab, self.words, self.block = vocab, words, block

    def __len__(self) -> int:
        return len(self.words)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        ids = self.vocab.encode([self.words[i]])[1:-1].long()
        x = torch.zeros(self.block, dtype=torch.long)
        y = torch.full((self.block,), -1, dtype=torch.long)
        x[1 : 1 + len(ids)] = ids
        y[: len(ids)] = ids
        y[len(ids)] = 0
        return x, y


@torch.no_grad()
def estimated_loss(net: TransformerNet, dataset: WordDataset) -> float:
    """makemore.py's evaluate(): the mean loss of 10 batches of 100 words."""
    net.eval()
    losses = []
    for i, (x, y) in enumerate(DataLoader(dataset, shuffle=True, batch_size=100)):
        logits = net(x)
        losses.append(F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1), ignore_index=-1).item())
        if i == 9:
            break
    net.train()
    return sum(losses) / len(losses)


def exact_val_nll(net: TransformerNet, config, vocab: Vocabulary, val: Positions) -> float:
    model = Transformer(config, vocab, net)  # the pipeline's evaluation: every val position
    nll = -total_log_likelihood(model, val)[0] / len(val)
    net.train()
    return nll


def straightforward(
    config, vocab: Vocabulary, splits: dict[str, list[str]], val: Positions, block: int
) -> list[tuple[int, float, float]]:
    """(step, seconds on the loop's clock, exact val NLL) every MEASURE_EVERY steps."""
    torch.manual_seed(config.seed)
    net = TransformerNet(config, vocab.size, block)
    optimizer = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=0.01, betas=(0.9, 0.99), eps=1e-8)
    train_set, val_set = WordDataset(vocab, splits["train"], block), WordDataset(vocab, splits["val"], block)
    sampler = RandomSampler(
        train_set,
        replacement=True,
        num_samples=int(1e10),
        generator=torch.Generator().manual_seed(config.seed),
    )
    batches = iter(DataLoader(train_set, batch_size=BATCH, sampler=sampler))
    measured, clock = [(0, 0.0, exact_val_nll(net, config, vocab, val))], 0.0
    for step in range(1, LOOP_STEPS + 1):
        start = time.perf_counter()
        x, y = next(batches)
        logits = net(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1), ignore_index=-1)
        net.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % ESTIMATE_EVERY == 0:
            estimated_loss(net, train_set), estimated_loss(net, val_set)
        clock += time.perf_counter() - start
        if step % MEASURE_EVERY == 0:
            measured.append((step, clock, exact_val_nll(net, config, vocab, val)))
            print(f"  straightforward: step {step}, {clock:.1f} s, val NLL {measured[-1][2]:.4f}", flush=True)
    return measured


def first_reaching(points: list[tuple[int, float, float]], target: float) -> tuple[int, float] | None:
    return next(((step, seconds) for step, seconds, nll in points if nll <= target), None)


def main() -> None:
    params = load_params(ROOT / "params.yaml")
    config = instance_config("transformer", ROOT / "params.yaml")
    if TINY:
        config = type(config).model_validate(config.model_dump() | TINY_TRAINING)
    words = read_words(ROOT / params.data.path, params.data.max_len)[: TINY_WORDS if TINY else None]
    vocab = Vocabulary.from_words(words)
    splits = split_words(words, params.split.fractions, params.split.seed)
    train, val = Positions.of(vocab, splits["train"]), Positions.of(vocab, splits["val"])
    block = max(map(len, words)) + 1  # makemore.py's block size: the longest word of every split, and its end
    print(
        f"The `transformer` instance: {config.layers} layers, {config.heads} heads, embedding {config.embedding}, "
        f"dropout {config.dropout}; torch {torch.__version__}, {torch.get_num_threads()} threads\n",
        flush=True,
    )

    loop = straightforward(config, vocab, splits, val, block)
    target = loop[-1][2]
    training = Transformer.fit(config, FitData(vocab, train, val, max_len=params.data.max_len))
    pipeline = [(row["step"], seconds, row["val"]) for row, seconds in zip(training.curve, training.seconds)]
    loop_reached, pipeline_reached = first_reaching(loop, target), first_reaching(pipeline, target)

    print(f"\nTarget: val NLL {target:.4f}, the straightforward loop's after {LOOP_STEPS:,} steps\n")
    print("| recipe | steps | wall time to the target | best val NLL (its steps, seconds) |")
    print("| --- | --- | --- | --- |")
    for name, points, reached in (
        (f"straightforward: batch {BATCH}, AdamW lr {LR:g} constant, DataLoader", loop, loop_reached),
        (
            f"pipeline: batch {config.batch_size}, AdamW lr {config.lr:g}, {config.warmup} warm-up steps, cosine to {config.min_lr:g}",
            pipeline,
            pipeline_reached,
        ),
    ):
        best = min(points, key=lambda point: point[2])
        when = f"{reached[1]:.1f} s (step {reached[0]:,})" if reached else "not reached"
        print(f"| {name} | {points[-1][0]:,} | {when} | {best[2]:.4f} (step {best[0]:,}, {best[1]:.1f} s) |")
    if pipeline_reached:
        print(
            f"\nThe pipeline reaches the target {loop_reached[1] / pipeline_reached[1]:.1f}x faster (target: 3x or more)."
        )


if __name__ == "__main__":
    main()
