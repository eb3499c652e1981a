"""What families trained step by step share: the loop's steps with a progress bar, the message when the loss
diverges, a forecast of a long run, a loss curve of bounded size, and the machine's memory."""

import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
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
    (with or without a terminal for the progress bar).

    The pace of the steps leaves out the time spent measuring val (`measured`), which is forecast apart: a run
    measures every `every` steps and at its last, and a measurement of a large val can take longer than many steps.
    """

    def __init__(self, total: int, initial: int = 0, unit: str = "step", every: int | None = None):
        self.total, self.initial, self.unit, self.every = total, initial, unit, every
        self.started = time.perf_counter()
        self.measuring, self.measurements = 0.0, 0
        self.decided = False

    def measured(self, seconds: float) -> None:
        """A measurement of val took `seconds`."""
        self.measuring, self.measurements = self.measuring + seconds, self.measurements + 1

    def done(self, count: int, now: float | None = None) -> None:
        """`count` of the total are done (at `now`, by time.perf_counter)."""
        stepping = (time.perf_counter() if now is None else now) - self.started - self.measuring
        if self.decided or stepping < FORECAST_AFTER or count <= self.initial:
            return
        steps_left = stepping / (count - self.initial) * (self.total - count)
        measurements_left = self.measurements_after(count) if self.measurements else 0
        measuring_left = self.measuring / self.measurements * measurements_left if self.measurements else 0.0
        if steps_left + measuring_left > LONG_RUN:
            measures = f" and {measurements_left:,} measurements of val" if self.measurements else ""
            tqdm.write(  # above the progress bar, if one is drawn
                f"warning: at its pace so far ({count - self.initial:,} {self.unit}s in {stepping:.0f} s), this run "
                f"takes about {(steps_left + measuring_left) / 3600:.1f} more hours for its {self.total:,} "
                f"{self.unit}s{measures}; Ctrl-C stops it",
                file=sys.stderr,
            )
        self.decided = True  # once: at the pace of its first FORECAST_AFTER seconds

    def measurements_after(self, count: int) -> int:
        """The measurements of steps `count`..`total`: every `every` steps, and at the last."""
        if self.every is None:
            return 0
        return self.total // self.every - (count - 1) // self.every + (self.total % self.every != 0)


def training_device(device: str) -> torch.device:
    """Where a net trains: a GPU when its `device` param is `auto` and there is one, else the CPU."""
    return torch.device("cuda" if device == "auto" and torch.cuda.is_available() else "cpu")


def machine_memory() -> int:
    """Bytes of memory this process may use: the machine's, or its container's limit when lower."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        return min(memory, int(Path("/sys/fs/cgroup/memory.max").read_text()))
    except (OSError, ValueError):  # no cgroup v2 limit ("max", or no such file)
        return memory


def too_much_memory(needed: int, memory: int, estimate: str, where: str) -> str | None:
    """Nothing when `needed` bytes take at most half of `memory`, the bytes of `where` (this machine, this GPU).
    Above half: a warning, `estimate` and how much of the memory it is. Above all of it: that sentence, returned
    for the caller to refuse with, naming the param to blame."""
    if needed <= memory // 2:
        return None
    sentence = (
        f"{estimate}, more than {'half of ' if needed <= memory else ''}the {memory / 1e9:.1f} GB of {where}"
    )
    if needed <= memory:
        print(f"warning: {sentence}", file=sys.stderr)
        return None
    return sentence


class Steps:
    """Steps `start`..`total` of a training loop, with a progress bar and a forecast of a long run.

        for step in steps:         # the bar and the forecast move on as each step ends
            loss = ...
            steps.check(loss)      # a loss that is not finite stops the run, with `diverged(loss, step)`
            steps.show(row)        # a curve row's NLLs beside the bar
            if step == total: break   # the last step is measured, never updated

    A family's message for a divergence names the param to blame (`lr = 0.1 is too large: ...`).
    """

    def __init__(
        self,
        total: int,
        diverged: Callable[[float, int], str],
        start: int = 0,
        shown: bool = True,
        every: int | None = None,
    ):
        self.total, self.diverged, self.start, self.shown = total, diverged, start, shown
        self.step = start
        self.bar: tqdm | None = None
        self.forecast = Forecast(total, initial=start, every=every)

    def __iter__(self) -> Iterator[int]:
        bar = progress(desc="train", total=self.total, unit="step", initial=self.start, shown=self.shown)
        with bar as self.bar:
            for step in range(self.start, self.total + 1):
                self.step = step
                yield step
                self.bar.update()
                if self.shown:
                    self.forecast.done(step + 1)

    @contextmanager
    def measuring(self) -> Iterator[None]:
        """Time a measurement of val in the block, for the forecast to leave out of the steps' pace."""
        started = time.perf_counter()
        yield
        self.forecast.measured(time.perf_counter() - started)

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
