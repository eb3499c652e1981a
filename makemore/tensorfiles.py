"""Files of tensors: a model's, the bigram counts, a training run's checkpoint. Stored with `torch.save` into a
temporary file renamed into place (makemore/artifacts.py's writes) and read back with `weights_only=True`: nothing
is unpickled."""

import hashlib
import io
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch

from makemore import MakemoreError
from makemore.artifacts import write_bytes


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor | str], codepoints: torch.Tensor) -> None:
    """Save `tensors` with the code points of the vocabulary they index, so no file is read against another one."""
    write_saved(path, {**tensors, "vocabulary": codepoints})


def write_saved(path: str | Path, saved: dict) -> None:
    """`torch.save` of `saved`, serialised in memory first: the archive's inner names come from the file name, which
    would otherwise be the temporary one of the atomic write, and the bytes must not depend on it."""
    buffer = io.BytesIO()
    torch.save(saved, buffer)
    write_bytes(path, buffer.getvalue())


def load_tensors(path: str | Path, codepoints: torch.Tensor) -> dict[str, torch.Tensor | str]:
    """What `save_tensors` saved, checked to be made with the vocabulary of `codepoints`. Nothing is unpickled."""
    try:
        loaded = torch.load(path, weights_only=True)
    except FileNotFoundError:
        raise MakemoreError(f"{path}: no such file (run `dvc repro` to make it)") from None
    except Exception:
        raise MakemoreError(
            f"{path}: not a readable tensor file (corrupt, or not written by this pipeline)"
        ) from None
    if not isinstance(loaded, dict):
        raise MakemoreError(f"{path}: not written by this pipeline's stages")
    stored = loaded.pop("vocabulary", None)
    if not (isinstance(stored, torch.Tensor) and torch.equal(stored, codepoints)):
        raise MakemoreError(
            f"{path}: made with another vocabulary than data/prepared/vocab.json (run `dvc repro`)"
        )
    return loaded


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
        for file in files:  # named as from the current folder: a checkout that moves keeps its checkpoints
            digest.update(f"\0{os.path.relpath(file)}\0".encode())
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
        write_saved(self.path, state | {"key": self.key})

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
