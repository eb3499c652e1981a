"""What families trained step by step share: the loop's steps with a progress bar, the message when the loss
diverges, a forecast of a long run, a loss curve of bounded size, and the machine's memory."""

import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import torch
from tqdm import tqdm

from makemore import ParamError

MAX_CURVE_POINTS = 1000  # steps recorded in a loss curve, whatever the number of steps
LONG_RUN = 3600  # seconds: a run forecast to take longer is announced, with its forecast
FORECAST_AFTER = 10  # seconds of a run measured before its length is forecast
# tqdm's bar_format
PROGRESS = "{desc}: {n_fmt}/{total_fmt} {unit}s{postfix} [{elapsed} elapsed, {remaining} left]"


def recorded(step: int, steps: int) -> bool:
    """Whether the curve records `step`: every step up to MAX_CURVE_POINTS steps, evenly spaced ones beyond."""
    return step % math.ceil(steps / MAX_CURVE_POINTS) == 0 or step == steps


def progress(
    iterable: Iterable | None = None,
    desc: str = "",
    total: int | None = None,
    unit: str = "it",
    initial: int = 0,
    shown: bool = True,
) -> tqdm:
    """A progress bar on stderr (count, time elapsed and left), drawn only when stderr is a terminal and it is
    `shown` (not in the processes of a distributed run but the first).

    Drawn from the first update after half a second, not when it is made: a short stage shows none, and a
    Ctrl-C cannot land between the first drawing and the `with` that closes the bar on the way out.
    """
    return tqdm(
        iterable,
        desc,
        total,
        unit=unit,
        bar_format=PROGRESS,
        mininterval=1.0,
        delay=0.5,
        disable=None if shown else True,
        initial=initial,
    )


class Forecast:
    """Announces, once, a run that at its pace so far would take more than LONG_RUN seconds, in one line on stderr
    (with or without a terminal for the progress bar)."""

    def __init__(self, total: int, initial: int = 0, unit: str = "step"):
        self.total, self.initial, self.unit = total, initial, unit
        self.started = time.perf_counter()
        self.decided = False

    def done(self, count: int, now: float | None = None) -> None:
        """`count` of the total are done (at `now`, by time.perf_counter)."""
        elapsed = (time.perf_counter() if now is None else now) - self.started
        if self.decided or elapsed < FORECAST_AFTER or count <= self.initial:
            return
        left = elapsed / (count - self.initial) * (self.total - count)
        if left > LONG_RUN:
            tqdm.write(  # above the progress bar, if one is drawn
                f"warning: at its pace so far ({count - self.initial:,} {self.unit}s in {elapsed:.0f} s), this run "
                f"takes about {left / 3600:.1f} more hours for its {self.total:,} {self.unit}s; Ctrl-C stops it",
                file=sys.stderr,
            )
        self.decided = True  # once: at the pace of its first FORECAST_AFTER seconds


def training_device(config: object) -> torch.device:
    """Where a family trains: a GPU when its config says `device: auto` and there is one, else the CPU."""
    auto = getattr(config, "device", "cpu") == "auto"
    return torch.device("cuda" if auto and torch.cuda.is_available() else "cpu")


def machine_memory() -> int:
    """Bytes of memory this process may use: the machine's, or its container's limit when lower."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        return min(memory, int(Path("/sys/fs/cgroup/memory.max").read_text()))
    except (OSError, ValueError):  # no cgroup v2 limit ("max", or no such file)
        return memory


class Steps:
    """Steps `start`..`total` of a training loop, with a progress bar and a forecast of a long run.

        for step in steps:         # the bar and the forecast move on as each step ends
            loss = ...
            steps.check(loss)      # a loss that is not finite stops the run, with `diverged(loss, step)`
            steps.show(row)        # a curve row's NLLs beside the bar
            if step == total: break   # the last step is measured, never updated

    A family's message for a divergence names the param to blame (`lr = 0.1 is too large: ...`).
    """

    def __init__(self, total: int, diverged: Callable[[float, int], str], start: int = 0, shown: bool = True):
        self.total, self.diverged, self.start, self.shown = total, diverged, start, shown
        self.step = start
        self.bar: tqdm | None = None

    def __iter__(self) -> Iterator[int]:
        forecast = Forecast(self.total, initial=self.start)
        bar = progress(desc="train", total=self.total, unit="step", initial=self.start, shown=self.shown)
        with bar as self.bar:
            for step in range(self.start, self.total + 1):
                self.step = step
                yield step
                self.bar.update()
                if self.shown:
                    forecast.done(step + 1)

    def check(self, loss: torch.Tensor) -> None:
        if not torch.isfinite(loss):
            raise ParamError(self.diverged(loss.item(), self.step))

    def show(self, row: dict[str, float]) -> None:
        self.bar.set_postfix_str(f"train NLL {row['train']:.4f}, val NLL {row['val']:.4f}", refresh=False)


def too_large_lr(lr: float) -> Callable[[float, int], str]:
    """The divergence message of a family whose step size is its only suspect."""
    return lambda loss, step: (
        f"lr = {lr:g} is too large: the loss became {loss} at step {step}; try a smaller lr"
    )
