"""Reading and writing the pipeline's files.

Every write goes to a temporary file beside the target and is renamed into place, so a reader never
sees a half-written artifact. Files of tensors are makemore/tensorfiles.py's: a stage that writes none starts
without torch.
"""

import codecs
import hashlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from makemore import MakemoreError, handle_interrupts


def format_characters(planes: tuple[int, ...]) -> str:
    """Unicode's Cf in `planes` (invisible characters that shape the text around them: a BOM, a zero-width joiner, a
    direction mark) as a regular expression's class, a range per run: `re` matches a few ranges beyond plane 0 far
    faster than as many characters."""
    runs: list[list[int]] = []
    for code in (code for plane in planes for code in range(plane << 16, (plane + 1) << 16)):
        if unicodedata.category(chr(code)) == "Cf":
            if runs and runs[-1][1] == code - 1:
                runs[-1][1] = code
            else:
                runs.append([code, code])
    return "".join(f"{chr(first)}-{chr(last)}" for first, last in runs)


# Unicode has format characters in planes 0, 1 and 14 only
FORMAT_IN_PLANE_0, FORMAT_BEYOND_PLANE_0 = format_characters((0,)), format_characters((1, 14))
# Unicode's Cc, Zl and Zp, and Cf: never part of a word
CONTROL_CHARACTER = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{FORMAT_IN_PLANE_0}{FORMAT_BEYOND_PLANE_0}]")
# The same less "\n" and "\r", in two parts for speed (_refusable): those in plane 0, and those beyond it
CONTROL_IN_PLANE_0 = re.compile(f"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029{FORMAT_IN_PLANE_0}]")
FORMAT_BEYOND_PLANE_0_CHARACTER = re.compile(f"[{FORMAT_BEYOND_PLANE_0}]")
BLOCK_BYTES = 1 << 24  # of a file of words read at once
DATABASE_MEMORY = "1GB"  # DuckDB's, beyond which it spills to disk
WHY_REFUSED = {
    "control": "(one word per line, no tabs or control characters)",
    "format": "(invisible: not part of a word; a byte order mark may only open the file)",
}
# the longest canonical decomposition of a character: NFC shortens a text at most this many times
NFC_SHRINK = 4


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def written(path: str | Path) -> Iterator[Path]:
    """A temporary path beside `path` for a writer to write to, renamed to `path` once the block ends: a reader never
    sees a half-written file, and on an error (a full disk, a Ctrl-C) nothing is left under either name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a writer that was killed
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    # mkstemp makes the file private (0600); a plain open() would respect the umask
    os.chmod(tmp, 0o666 & ~umask())
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as e:  # a full disk: nothing is left half-written under the name
        Path(tmp).unlink(missing_ok=True)
        raise MakemoreError(f"{path}: cannot write it ({(e.strerror or str(e)).lower()})") from None
    except BaseException:  # a Ctrl-C, perhaps after the rename
        Path(tmp).unlink(missing_ok=True)
        raise


def scratch_root() -> Path:
    """The one folder under the system's temporary folder where every run of this user keeps its scratch folders."""
    return Path(tempfile.gettempdir()) / f"makemore-scratch-{os.getuid()}"


@contextmanager
def scratch_folder(purpose: str) -> Iterator[Path]:
    """A new empty folder under `scratch_root()`, deleted when the block ends. Its name starts with this process's
    PID, so that a later run deletes it if this process was killed (`kill -9`) before it could."""
    root = scratch_root()
    root.mkdir(mode=0o700, exist_ok=True)
    remove_orphaned_scratch(root)
    folder = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-{purpose}-", dir=root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_orphaned_scratch(root: Path) -> None:
    """Delete the scratch folders whose process is gone."""
    for folder in root.iterdir():
        pid = folder.name.partition("-")[0]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, and another user's
        return True
    return True


@contextmanager
def scratch_database(purpose: str) -> Iterator["duckdb.DuckDBPyConnection"]:  # noqa: F821 (imported when called)
    """A DuckDB database in a scratch folder, deleted after: it holds its tables on disk and spills to disk what
    does not fit in DATABASE_MEMORY, so that data of any size fits. A DuckDB error (a full disk, most likely)
    becomes one line, `PURPOSE: ERROR`."""
    import duckdb  # only where a table may outgrow the memory: not in every stage's start

    with scratch_folder("duckdb") as folder:
        connection = duckdb.connect(
            str(folder / "scratch.duckdb"),
            config={"memory_limit": DATABASE_MEMORY, "temp_directory": str(folder / "spilled")},
        )
        try:
            yield connection
        except duckdb.Error as e:
            # its first line, which may end in a JSON object whose own message is the one to show
            message = str(e).splitlines()[0]
            if detail := re.search(r'"exception_message":"((?:[^"\\]|\\.)*)"', message):
                message = json.loads(f'"{detail[1]}"')
            raise MakemoreError(f"{purpose}: {message}") from None
        finally:
            connection.close()


def write_bytes(path: str | Path, data: bytes) -> None:
    with written(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: object) -> None:
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def write_words(path: str | Path, words: Iterable[str]) -> None:
    write_text(path, "".join(f"{word}\n" for word in words))


def read_words(path: str | Path, max_len: int | None = None, normalize: str = "none") -> list[str]:
    """The words of `read_word_chunks`, all at once."""
    return [word for chunk in read_word_chunks(path, max_len, normalize) for word in chunk]


def read_word_chunks(
    path: str | Path, max_len: int | None = None, normalize: str = "none"
) -> Iterator[list[str]]:
    """The non-blank lines of a UTF-8 text file, stripped of surrounding whitespace (and so of `\\r`) and in the form
    of data.normalize (`normalize`), a block of lines at a time, each line read alike wherever a block ends: the
    memory it takes does not grow with the file. A word longer than `max_len` characters (once normalised) is
    dropped, with a warning on stderr that says how many were. A control character inside a word (a tab, an escape,
    a NUL, ...) is refused, the sign of a file that is not a list of words (sampled words would carry it to the
    terminal), and so is a format character (a BOM past the start, a zero-width joiner, a direction mark), which
    would make one word two unseen."""
    path = Path(path)
    if path.is_dir():
        raise MakemoreError(f"{path}: is a directory, not a file of words")
    # a device such as /dev/zero, or a pipe: no end, or no hash for DVC
    if path.exists() and not path.is_file():
        raise MakemoreError(f"{path}: not a regular file (a file of words, one per line)")
    too_long, first_too_long, words = 0, 0, 0
    try:
        with path.open("rb") as f:
            for lineno, block in _line_blocks(path, f, max_len):
                lines = _block_lines(path, block, lineno, normalize)
                if max_len is not None and (
                    long := [at for at, word in enumerate(lines) if len(word) > max_len]
                ):
                    too_long, first_too_long = too_long + len(long), first_too_long or lineno + long[0] + 1
                chunk = [word for word in lines if word and (max_len is None or len(word) <= max_len)]
                words += len(chunk)
                yield chunk
    except OSError as e:
        raise MakemoreError(f"{path}: {e.strerror.lower() if e.strerror else e}") from None
    if too_long:
        print(
            f"warning: {path}: dropped {too_long} word(s) longer than data.max_len = {max_len} characters "
            f"(the first at line {first_too_long})",
            file=sys.stderr,
        )
    if not words:
        raise MakemoreError(
            f"{path}: no words (the file is empty, or has only blank lines or words that are too long)"
        )


def _line_blocks(path: Path, f: io.BufferedReader, max_len: int | None) -> Iterator[tuple[int, bytes]]:
    """The file in blocks of about BLOCK_BYTES of whole lines, each with the number of lines before it. A line too long
    to hold a word of `max_len` characters is never held whole: it is judged as it is read (`_long_line`), and a
    line of its word takes its place, which is judged as the line would be."""
    limit = (
        None if max_len is None else 4 * max_len + 1024
    )  # bytes: at most 4 a character, and room for spaces
    reads = iter(lambda: f.read(BLOCK_BYTES), b"")
    carry, lineno = b"", 0
    for block in reads:
        data = carry + block
        while True:
            cut = data.rfind(b"\n") + 1
            lines, carry = data[:cut], data[cut:]
            if lines:
                yield lineno, lines
                lineno += lines.count(b"\n")
            if limit is None or len(carry) <= limit:
                break
            data = _long_line(path, lineno + 1, carry, reads, max_len)
    if carry:
        yield lineno, carry


def _long_line(path: Path, lineno: int, head: bytes, reads: Iterator[bytes], max_len: int) -> bytes:
    """The line that starts with `head` and goes on in `reads`, judged as it is read: `_decode_line`'s error, or a
    line of its word, followed by what came after the line in the last read."""
    line = _LongLine(path, lineno, max_len)
    if lineno == 1:
        head = head.removeprefix(codecs.BOM_UTF8)
    while (end := head.find(b"\n")) < 0:
        line.read(head)
        if (head := next(reads, None)) is None:  # the file ends in it
            head, end = b"\n", 0
            break
    line.read(head[:end], last=True)
    return line.word_line() + head[end:]


class _LongLine:
    """A line judged a piece at a time, as `_decode_line` judges a line whole: the first byte that is not UTF-8 is the
    error; else the first control character of its word (the line stripped of whitespace) is; else its word is the
    verdict. The word is held only while it may be short enough to keep: NFC shortens a text at most NFC_SHRINK-fold,
    as no character's canonical decomposition is longer."""

    def __init__(self, path: Path, lineno: int, max_len: int):
        self.path, self.lineno, self.max_len = path, lineno, max_len
        self.undecoded = b""  # a character cut by the end of the last piece
        self.decoded = 0  # bytes decoded so far
        self.chars = 0  # characters so far
        self.word_start: int | None = None  # the index of the word's first character
        self.word_end = 0  # one past its last so far
        self.word = ""  # its first NFC_SHRINK * max_len characters, and what followed them so far
        self.problem: str | None = None  # the first control character of the word so far, as a phrase
        self.after_word: str | None = None  # the first after it: in the word if the word goes on

    def read(self, piece: bytes, last: bool = False) -> None:
        data = self.undecoded + piece
        try:
            text, self.undecoded = data.decode(), b""
        except UnicodeDecodeError as e:
            if last or e.reason != "unexpected end of data":
                raise MakemoreError(_not_utf8(self.path, self.lineno, data, e.start, self.decoded)) from None
            text, self.undecoded = data[: e.start].decode(), data[e.start :]
        self.decoded += len(data) - len(self.undecoded)
        self.scan(text, refusable=_refusable(data, text))
        self.chars += len(text)

    def scan(self, text: str, refusable: bool) -> None:
        start = 0
        if self.word_start is None:
            if not (start := len(text) - len(text.lstrip())) < len(text):
                return
            self.word_start = self.chars + start
        if (end := len(text.rstrip())) > start:
            self.problem = self.problem or self.after_word
            self.word_end, self.after_word = self.chars + end, None
            if refusable:
                self.problem = self.problem or control_character(text, start, end, self.chars, why=True)
        if refusable:
            self.after_word = self.after_word or control_character(
                text, max(start, end), len(text), self.chars, why=True
            )
        self.word += text[start : start + NFC_SHRINK * self.max_len - len(self.word)]

    def word_line(self) -> bytes:
        """Its word as a line, or one of max_len + 1 characters when it is longer than NFC can shorten to max_len."""
        if self.problem:
            raise MakemoreError(f"{self.path}:{self.lineno}: {self.problem}")
        if self.word_start is None:
            return b""
        if self.word_end - self.word_start > NFC_SHRINK * self.max_len:
            return b"x" * (self.max_len + 1)
        return self.word[: self.word_end - self.word_start].encode()


def _block_lines(path: Path, block: bytes, lineno: int, normalize: str) -> list[str]:
    """The stripped lines of a block, normalised: at once when it has nothing to report, else line by line."""
    return _fast_lines(block, lineno, normalize) or _checked_lines(path, block, lineno, normalize)


def _fast_lines(block: bytes, lineno: int, normalize: str) -> list[str] | None:
    """The stripped lines of a block decoded and normalised at once, the common case at C speed; None when the block
    has something to report (bad UTF-8, a control or format character other than line ends). Normalising the
    block is normalising each line: NFC changes no line end, nor what is whitespace."""
    try:
        text = block.decode("utf-8-sig" if lineno == 0 else "utf-8")
    except UnicodeDecodeError:
        return None
    if _refusable(block, text.replace("\r\n", "\n")):
        return None
    return [line.strip() for line in normalized(text, normalize).split("\n")]


def _refusable(data: bytes, text: str) -> bool:
    """Whether `text`, decoded from `data`, may hold a character to refuse: a control or format character other than
    "\\n" (a "\\r" counts). At C speed: a class of characters beyond plane 0 is slow to match, and is matched only if the
    UTF-8 has a byte that starts one of them."""
    return bool(
        CONTROL_IN_PLANE_0.search(text)
        or "\r" in text
        or (b"\xf0" in data or b"\xf3" in data)
        and FORMAT_BEYOND_PLANE_0_CHARACTER.search(text)
    )


def _checked_lines(path: Path, block: bytes, lineno: int, normalize: str) -> list[str]:
    """The stripped lines of a block, line by line, each decoded, checked and normalised, so that an error names its
    line."""
    return [
        _decode_line(path, lineno + at, line, normalize)
        for at, line in enumerate(block.split(b"\n"), start=1)
    ]


def control_character(
    text: str, start: int = 0, end: int | None = None, columns_before: int = 0, why: bool = False
) -> str | None:
    """Where the first control or format character of `text[start:end]` is, as a phrase for an error message that
    counts columns in the whole `text`, after `columns_before` others, and says why no word holds one if `why`;
    None if there is none."""
    if not (found := CONTROL_CHARACTER.search(text, start, len(text) if end is None else end)):
        return None
    char, column = found[0], columns_before + found.start() + 1
    if unicodedata.category(char) == "Cf":
        name = "byte order mark" if char == "\ufeff" else unicodedata.name(char, "unnamed").lower()
        phrase, kind = f"format character U+{ord(char):04X} ({name}) at column {column}", "format"
    else:
        phrase, kind = f"control character U+{ord(char):04X} at column {column}", "control"
    return f"{phrase} {WHY_REFUSED[kind]}" if why else phrase


def normalized(text: str, normalize: str) -> str:
    """`text` in the form of data.normalize: NFC, or as it is (none)."""
    return unicodedata.normalize("NFC", text) if normalize == "nfc" else text


def _not_utf8(path: Path, lineno: int, data: bytes, at: int, columns_before: int = 0) -> str:
    return f"{path}:{lineno}: not valid UTF-8 (byte 0x{data[at]:02x} at column {columns_before + at + 1})"


def _decode_line(path: Path, lineno: int, line: bytes, normalize: str) -> str:
    if lineno == 1:
        line = line.removeprefix(codecs.BOM_UTF8)
    try:
        text = line.decode()
    except UnicodeDecodeError as e:
        raise MakemoreError(_not_utf8(path, lineno, line, e.start)) from None
    word = text.strip()
    start = len(text) - len(text.lstrip())  # the column counts the whitespace before the word too
    if problem := control_character(text, start, start + len(word), why=True):
        raise MakemoreError(f"{path}:{lineno}: {problem}")
    return normalized(word, normalize)


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes, as `sha256sum` gives it: what a metric records of the model it measured."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def instance_argument() -> str:
    """The NAME of `python stages/STAGE.py NAME`, as dvc.yaml passes each instance of `models:` in params.yaml."""
    if len(sys.argv) != 2 or not sys.argv[1]:
        raise MakemoreError(
            f"usage: python {sys.argv[0]} NAME, where NAME is a model under `models:` in params.yaml"
        )
    return sys.argv[1]


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's main; a MakemoreError, or an error of the system's (DVCLive's writes on a full disk), becomes
    one line on stderr and exit status 1, and a Ctrl-C or a SIGTERM the line `interrupted` (from the start of the
    stage when it is run as dvc.yaml runs it, `python -m stages.NAME`: stages/__init__.py)."""
    handle_interrupts()
    try:
        main()
    except MakemoreError as e:
        sys.exit(f"error: {e}")
    except OSError as e:  # the system refused a read or a write: a full disk, a folder without permission
        sys.exit(f"error: {e.filename or 'a file'}: {(e.strerror or str(e)).lower()}")
