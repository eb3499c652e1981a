"""What families that train step by step share: a progress bar, and a loss curve of bounded size."""

import math
from collections.abc import Iterable

from tqdm import tqdm

MAX_CURVE_POINTS = 1000  # steps recorded in a loss curve, whatever the number of steps
PROGRESS = "{desc}: {n_fmt}/{total_fmt} {unit}s{postfix} [{elapsed} elapsed, {remaining} left]"  # tqdm's bar_format


def recorded(step: int, steps: int) -> bool:
    """Whether the curve records `step`: every step up to MAX_CURVE_POINTS steps, evenly spaced ones beyond."""
    return step % math.ceil(steps / MAX_CURVE_POINTS) == 0 or step == steps


def progress(iterable: Iterable | None = None, desc: str = "", total: int | None = None, unit: str = "it") -> tqdm:
    """A progress bar on stderr (count, time elapsed and left), drawn only when stderr is a terminal.

    Drawn from the first update after half a second, not when it is made: a short stage shows none, and a
    Ctrl-C cannot land between the first drawing and the `with` that closes the bar on the way out.
    """
    return tqdm(iterable, desc, total, unit=unit, bar_format=PROGRESS, mininterval=1.0, delay=0.5, disable=None)
