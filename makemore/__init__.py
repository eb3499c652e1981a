"""Character-level language models, from the lecture's bigram up a ladder, built and evaluated by a DVC pipeline."""

import sys


class MakemoreError(Exception):
    """A problem with the user's data, params or artifacts, reported as one line without a traceback."""


class ParamError(MakemoreError):
    """A value of a model's params that its family cannot work with; the message starts with `key = value`, and
    the train stage names the model before it."""


def _interrupted(kind, value, traceback):
    if issubclass(kind, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)  # nothing half-written is left: every write is atomic
    else:
        _excepthook(kind, value, traceback)


# Ctrl-C ends a stage or the CLI with one line instead of a traceback. Set here, on the first import of the
# package, because most of a short stage's time is spent importing torch, before any main() could catch it.
_excepthook = sys.excepthook
sys.excepthook = _interrupted
