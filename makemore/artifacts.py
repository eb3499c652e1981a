"""Reading and writing the pipeline's files.

Every write goes to a temporary file beside the target and is renamed into place, so a reader never
sees a half-written artifact. Tensors are stored with `torch.save` and read back with
`weights_only=True`: nothing is unpickled.
"""

import io
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

from makemore import MakemoreError
from makemore.bigram import Vocabulary


def write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: object) -> None:
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def write_words(path: str | Path, words: Iterable[str]) -> None:
    write_text(path, "".join(f"{word}\n" for word in words))


def read_words(path: str | Path) -> list[str]:
    """The non-blank lines of a UTF-8 text file, stripped of surrounding whitespace (and so of `\\r`)."""
    path = Path(path)
    if not path.is_file():
        raise MakemoreError(f"{path}: no such file")
    words = []
    with path.open("rb") as f:
        for lineno, line in enumerate(f, start=1):
            try:
                text = line.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise MakemoreError(
                    f"{path}:{lineno}: not valid UTF-8 (byte 0x{line[e.start]:02x} at column {e.start + 1})"
                ) from None
            word = text.strip()
            if word:
                words.append(word)
    if not words:
        raise MakemoreError(f"{path}: no words (the file is empty or has only blank lines)")
    return words


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor]) -> None:
    # Serialised in memory first: the archive's inner names come from the file name, which would
    # otherwise be the temporary one, and the bytes must not depend on it.
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    write_bytes(path, buffer.getvalue())


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    try:
        return torch.load(path, weights_only=True)
    except FileNotFoundError:
        raise MakemoreError(f"{path}: no such file (run `dvc repro` to make it)") from None
    except Exception:
        raise MakemoreError(f"{path}: not a readable tensor file (corrupt, or not written by this pipeline)") from None


def save_vocab(path: str | Path, vocab: Vocabulary) -> None:
    write_json(path, {"boundary": vocab.boundary, "chars": list(vocab.chars)})


def load_vocab(path: str | Path) -> Vocabulary:
    try:
        fields = json.loads(Path(path).read_text(encoding="utf-8"))
        return Vocabulary(chars=tuple(fields["chars"]), boundary=fields["boundary"])
    except FileNotFoundError:
        raise MakemoreError(f"{path}: no such file (run `dvc repro` to make it)") from None
    except (ValueError, KeyError, TypeError) as e:
        raise MakemoreError(f"{path}: not a vocabulary file ({type(e).__name__}: {e})") from None


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's main; a MakemoreError becomes one line on stderr and exit status 1."""
    try:
        main()
    except MakemoreError as e:
        sys.exit(f"error: {e}")
