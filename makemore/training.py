"""What families that train step by step share: a progress bar, a loss curve of bounded size, and a checkpoint
to resume from."""

import hashlib
import io
import json
import math
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from makemore.artifacts import write_bytes

MAX_CURVE_POINTS = 1000  # steps recorded in a loss curve, whatever the number of steps
LONG_RUN = 3600  # seconds: a run forecast to take longer is announced, with its forecast
FORECAST_AFTER = 10  # seconds of a run measured before its length is forecast
PROGRESS = (
    "{desc}: {n_fmt}/{total_fmt} {unit}s{postfix} [{elapsed} elapsed, {remaining} left]"  # tqdm's bar_format
)


def recorded(step: int, steps: int) -> bool:
    """Whether the curve records `step`: every step up to MAX_CURVE_POINTS steps, evenly spaced ones beyond."""
    return step % math.ceil(steps / MAX_CURVE_POINTS) == 0 or step == steps


def progress(
    iterable: Iterable | None = None,
    desc: str = "",
    total: int | None = None,
    unit: str = "it",
    initial: int = 0,
) -> tqdm:
    """A progress bar on stderr (count, time elapsed and left), drawn only when stderr is a terminal.

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
        disable=None,
        initial=initial,
    )


class Forecast:
    """Announces, once, a run that at its pace so far would take more than LONG_RUN seconds, in one line on stderr
    (with or without a terminal for the progress bar)."""

    def __init__(self, total: int, initial: int = 0, unit: str = "step"):
        self.total, self.initial, self.unit = total, initial, unit
        self.started = time.perf_counter()
        self.told = False

    def done(self, count: int, now: float | None = None) -> None:
        """`count` of the total are done (at `now`, by time.perf_counter)."""
        elapsed = (time.perf_counter() if now is None else now) - self.started
        if self.told or elapsed < FORECAST_AFTER or count <= self.initial:
            return
        left = elapsed / (count - self.initial) * (self.total - count)
        if left > LONG_RUN:
            print(
                f"warning: at its pace so far ({count - self.initial:,} {self.unit}s in {elapsed:.0f} s), this run takes about "
                f"{left / 3600:.1f} more hours for its {self.total:,} {self.unit}s; Ctrl-C stops it",
                file=sys.stderr,
            )
        self.told = True


def machine_memory() -> int:
    """Bytes of memory this process may use: the machine's, or its container's limit when lower."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        return min(memory, int(Path("/sys/fs/cgroup/memory.max").read_text()))
    except (OSError, ValueError):  # no cgroup v2 limit ("max", or no such file)
        return memory


@dataclass(frozen=True)
class Checkpoint:
    """A file where a run keeps its state to resume from, and the key of the run it belongs to.

    The key is a hash of everything the run's result depends on (its config, its input files, this checkout's
    code, torch's version): a file left by another run is never resumed, only written over.
    """

    path: Path
    key: str

    @classmethod
    def of(cls, path: str | Path, settings: object, files: Iterable[Path]) -> "Checkpoint":
        digest = hashlib.sha256(json.dumps([settings, torch.__version__], sort_keys=True).encode())
        for file in files:
            digest.update(f"\0{file}\0".encode())
            digest.update(file.read_bytes())
        return cls(Path(path), digest.hexdigest())

    def load(self) -> dict | None:
        """The state saved by this run, or None: no file, another run's, or one that cannot be read (a power cut
        during its write) is started over."""
        try:
            state = torch.load(self.path, weights_only=True)  # nothing is unpickled
        except FileNotFoundError:
            return None
        except Exception:
            print(
                f"warning: {self.path}: not a readable checkpoint, so training starts over", file=sys.stderr
            )
            return None
        if not isinstance(state, dict) or state.get("key") != self.key:
            return None
        print(f"resuming from step {state['step']} ({self.path})", file=sys.stderr)
        return state

    def save(self, state: dict) -> None:
        buffer = io.BytesIO()
        torch.save(state | {"key": self.key}, buffer)
        write_bytes(self.path, buffer.getvalue())

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
