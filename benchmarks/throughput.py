"""Training throughput of each net: tokens per second of the pipeline's loop against the straightforward one.

    python benchmarks/throughput.py [NAME ...]     (part of `make bench`; prints a table, asserts nothing)

Both loops train the net of each family's default instance in params.yaml (the first instance of each family and
cell, or the instances named) with its batch size and AdamW, on the default data's train words. The
straightforward loop reads a word a row, padded to the longest of its batch (makemore.py's way, and this
pipeline's until it packed its batches); the pipeline's draws its batches as `Network.fit` does: rows of whole
words one after another, or for a recurrent net, words that its cell reads only up to their ends. A token is a
predicted position (padding is not one). The loops take turns, ROUNDS rounds each after a warm-up round, and
each loop's figure is its fastest round: the least disturbed by the rest of the machine. With
MAKEMORE_BENCH_TINY=1 (the tests' size) it takes the first TINY_WORDS words and batches of TINY_BATCH words,
and times one round of 2 steps.
"""

import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from makemore.artifacts import read_words
from makemore.models import FAMILIES, instance_config
from makemore.models.contexts import IGNORED, Positions
from makemore.models.network import Network
from makemore.models.training import Batches, parameter_groups
from makemore.params import load_params
from makemore.splits import split_words
from makemore.vocab import Vocabulary

ROOT = Path(__file__).resolve().parents[1]
# The tests' size: seconds, not minutes (tests/test_bench.py).
TINY = os.environ.get("MAKEMORE_BENCH_TINY") == "1"
TINY_WORDS, TINY_BATCH = 300, 8
STEPS, ROUNDS = (2, 1) if TINY else (30, 3)  # steps in a round, timed rounds per loop


class Loop:
    """One way to train a net: its batches and its forward pass."""

    def __init__(self, net: torch.nn.Module, batches: Batches, batch_size: int, straightforward: bool):
        self.net, self.batches, self.batch_size = net, batches, batch_size
        self.straightforward = straightforward  # a word a row, padded; else as Network.fit draws
        self.optimizer = torch.optim.AdamW(parameter_groups(net, 0.01), lr=1e-3, fused=True)
        self.generator = torch.Generator().manual_seed(0)

    def logits(self, inputs: torch.Tensor, positions: torch.Tensor | None) -> torch.Tensor:
        recurrent = hasattr(self.net, "cell")
        if self.straightforward and recurrent:  # the cell steps through the padding too
            states, _ = self.net.cell(self.net.wte(inputs))  # (B, T, hidden)
            return self.net.head(self.net.drop(states))  # (B, T, V)
        return self.net(inputs, positions)  # (B, T, V)

    def tokens_per_second(self) -> float:
        """One round of STEPS steps."""
        tokens, start = 0, time.perf_counter()
        packed = self.net.reads_packed_rows and not self.straightforward
        for _ in range(STEPS):
            inputs, targets, positions = self.batches.draw(
                self.batch_size, self.generator, torch.device("cpu"), packed
            )
            logits = self.logits(inputs, positions)
            loss = F.cross_entropy(
                logits.view(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORED
            )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            tokens += int((targets != IGNORED).sum())
        return tokens / (time.perf_counter() - start)


def main() -> None:
    torch.manual_seed(0)
    params = load_params(ROOT / "params.yaml")
    words = read_words(ROOT / params.data.path, params.data.max_len)[: TINY_WORDS if TINY else None]
    vocab = Vocabulary.from_words(words)
    train = split_words(words, params.split.fractions, params.split.seed)["train"]
    batches = Batches.of(Positions.of(vocab, train))
    print(f"Training throughput on {len(train):,} train words, {torch.get_num_threads()} threads")
    print("| net | straightforward (tokens/s) | pipeline (tokens/s) | pipeline is |")
    print("| --- | --- | --- | --- |")
    seen = set()
    for name, spec in params.models.items():
        if sys.argv[1:] and name not in sys.argv[1:]:
            continue
        family = FAMILIES[spec["family"]]
        variant = (spec["family"], spec.get("cell"))
        if not issubclass(family, Network) or variant in seen:
            continue
        seen.add(variant)
        config = instance_config(name, ROOT / "params.yaml")
        net = family.Net(config, vocab.size, family.context_length_for(config, params.data.max_len)).train()
        batch_size = TINY_BATCH if TINY else config.batch_size
        loops = [Loop(net, batches, batch_size, straightforward) for straightforward in (True, False)]
        fastest = [0.0, 0.0]
        for round_ in range(ROUNDS + 1):  # the first round warms up
            for i, loop in enumerate(loops):
                speed = loop.tokens_per_second()
                fastest[i] = max(fastest[i], speed) if round_ else 0.0
        print(
            f"| {name} | {fastest[0]:,.0f} | {fastest[1]:,.0f} | {fastest[1] / fastest[0]:.2f}× |", flush=True
        )


if __name__ == "__main__":
    main()
