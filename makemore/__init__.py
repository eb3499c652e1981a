"""Character-level language models, from the lecture's bigram up a ladder, built and evaluated by a DVC pipeline."""

import signal
import sys


class MakemoreError(Exception):
    """A problem with the user's data, params or artifacts, reported as one line without a traceback."""


class ParamError(MakemoreError):
    """A value of a model's params that its family cannot work with; the message starts with `key = value`, and
    the train stage names the model before it."""


def handle_interrupts() -> None:
    """End this process on a Ctrl-C or a SIGTERM with one line, `interrupted`, instead of a traceback, once every
    `finally` on the way out has cleaned up (a SIGTERM is raised as a Ctrl-C).

    Called by the entry points, the stages (stages/__init__.py) and the `makemore` command (makemore/__main__.py),
    before they import torch: most of a short stage's time is spent there, before its main() could catch
    anything. Importing the package changes nothing in its host's process.
    """
    sys.excepthook = _interrupted
    signal.signal(signal.SIGTERM, _terminated)


def _interrupted(kind, value, traceback):
    if issubclass(kind, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)  # nothing half-written is left: every write is atomic
    else:
        sys.__excepthook__(kind, value, traceback)


def _terminated(signum, frame):
    raise KeyboardInterrupt
