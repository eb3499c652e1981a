"""Bad data and bad params: one clear line, a non-zero exit, no output left behind.

The stages run in this process (helpers.run_stage), which is what they do under DVC less the interpreter's
start; the subprocess tests at the end hold the contract of the real command: exit status and stderr.
"""

import fcntl
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
import torch
import yaml

from helpers import ROOT, set_params, stage_in_process
from makemore import MakemoreError
from makemore.params import MAX_SEED, load_params


@pytest.fixture
def workdir(tmp_path):
    """A directory with the default params and a small data file, where stage scripts run."""
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "data").mkdir()
    (tmp_path / "data/names.txt").write_text("emma\nolivia\nava\nisabella\nsophia\nmia\ncharlotte\namelia\nevelyn\nabigail\nharper\nemily\n")
    return tmp_path


def build(workdir, *stages):
    for stage in stages:
        result = stage_in_process(workdir, *stage.split("@"))
        assert result.returncode == 0, result.stderr


def assert_fails_with(result, message):
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"error: {message}"]


def test_prepare_writes_its_outputs_on_good_data(workdir):
    assert stage_in_process(workdir, "prepare").returncode == 0
    assert sorted(p.name for p in (workdir / "data/prepared").iterdir()) == ["test.txt", "train.txt", "val.txt", "vocab.json"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "data/names.txt: no words (the file is empty, or has only blank lines or words that are too long)"),
        (b"\n  \r\n\t\n", "data/names.txt: no words (the file is empty, or has only blank lines or words that are too long)"),
        (b"emma\nzo\xeb\nava\n", "data/names.txt:2: not valid UTF-8 (byte 0xeb at column 3)"),
    ],
    ids=["empty", "blank", "latin-1"],
)
def test_bad_data_is_named_with_its_line_and_leaves_no_output(workdir, content, message):
    (workdir / "data/names.txt").write_bytes(content)
    assert_fails_with(stage_in_process(workdir, "prepare"), message)
    assert not (workdir / "data/prepared").exists()


def test_a_missing_data_file_or_a_directory_is_named(workdir):
    set_params(workdir, data__path="data/nope.txt")
    assert_fails_with(stage_in_process(workdir, "prepare"), "data/nope.txt: no such file or directory")
    set_params(workdir, data__path="data")
    assert_fails_with(stage_in_process(workdir, "prepare"), "data: is a directory, not a file of words")


@pytest.mark.parametrize("char", ["\t", "\x00", "\x1b", "\x7f", "\x85", "\u2028"])
def test_a_control_character_inside_a_word_is_refused_with_its_line_and_column(workdir, char):
    (workdir / "data/names.txt").write_text(f"emma\nava\n  mia{char}x\t\nzoe\n", encoding="utf-8")  # the tab after x is stripped
    assert_fails_with(
        stage_in_process(workdir, "prepare"),
        f"data/names.txt:3: control character U+{ord(char):04X} at column 6 (one word per line, no tabs or control characters)",
    )
    assert not (workdir / "data/prepared").exists()


def test_words_longer_than_max_len_are_dropped_with_one_warning(workdir):
    names = (workdir / "data/names.txt").read_text().split()
    (workdir / "data/names.txt").write_text("\n".join(names[:3] + ["x" * 1_000_000] + names[3:] + ["y" * 51]) + "\n")
    result = stage_in_process(workdir, "prepare")
    assert result.returncode == 0
    assert result.stderr.splitlines() == ["warning: data/names.txt: dropped 2 word(s) longer than data.max_len = 50 characters (the first at line 4)"]
    kept = sum(((workdir / f"data/prepared/{s}.txt").read_text().split() for s in ("train", "val", "test")), [])
    assert sorted(kept) == sorted(names)

    (workdir / "data/names.txt").write_text("x" * 51 + "\n")
    result = stage_in_process(workdir, "prepare")
    assert result.stderr.splitlines()[-1] == "error: data/names.txt: no words (the file is empty, or has only blank lines or words that are too long)"


def test_a_split_too_small_for_the_data_is_refused_before_writing(workdir):
    set_params(workdir, split__train=0.98)
    set_params(workdir, split__val=0.01)
    set_params(workdir, split__test=0.01)
    assert_fails_with(stage_in_process(workdir, "prepare"), "split.val = 0.01 leaves the val split empty with 12 words")
    assert not (workdir / "data/prepared").exists()


def test_crlf_and_surrounding_whitespace_are_stripped(workdir):
    (workdir / "data/names.txt").write_bytes(b"\xef\xbb\xbfemma\r\n  ava \r\n\r\nmia\nzoe\nli\nbo\nal\nel\ncy\nty\n")
    assert stage_in_process(workdir, "prepare").returncode == 0
    words = sum(((workdir / f"data/prepared/{s}.txt").read_text().split("\n")[:-1] for s in ("train", "val", "test")), [])
    assert sorted(words) == sorted(["emma", "ava", "mia", "zoe", "li", "bo", "al", "el", "cy", "ty"])


@pytest.mark.parametrize(
    ("lr", "reg", "message"),
    [
        (1e30, 0, "train.lr = 1e+30 is too large: the loss became"),
        (1e30, 0.01, "train.lr = 1e+30 and train.reg = 0.01 are too large together: the loss became"),
        (50, 1e6, "train.lr = 50 and train.reg = 1e+06 are too large together: the loss became"),
        (50, 1e308, "train.reg = 1e+308 is too large: the L2 term reg * mean(W^2) is inf before the first step"),
    ],
)
def test_a_diverging_training_run_names_the_param_to_blame_and_writes_no_model(workdir, lr, reg, message):
    build(workdir, "prepare", "bigrams")
    set_params(workdir, train__lr=lr)
    set_params(workdir, train__reg=reg)
    result = stage_in_process(workdir, "train")
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"error: {message}")
    assert not (workdir / "data/models").exists() and not (workdir / "metrics").exists()


def test_a_smoothing_that_overflows_the_model_is_refused_where_it_is_made(workdir):
    build(workdir, "prepare", "bigrams")
    set_params(workdir, count__smoothing=1e308)
    assert_fails_with(
        stage_in_process(workdir, "count"), "count.smoothing = 1e+308 is too large: the row totals overflow and the rows no longer sum to 1"
    )
    assert not (workdir / "data/models").exists()
    set_params(workdir, count__smoothing=1e300)  # large, but every row still sums to 1: uniform rows
    build(workdir, "count", "evaluate@count")


def test_a_model_file_that_is_not_a_tensor_archive_is_a_clear_error(workdir):
    assert stage_in_process(workdir, "prepare").returncode == 0
    (workdir / "data/models").mkdir(parents=True)
    (workdir / "data/models/count.pt").write_bytes(b"garbage")
    assert_fails_with(stage_in_process(workdir, "evaluate", "count"), "data/models/count.pt: not a readable tensor file (corrupt, or not written by this pipeline)")


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("count", "smoothing", -1, "count.smoothing = -1 is invalid: input should be greater than or equal to 0"),
        ("count", "smoothing", ".nan", "count.smoothing = nan is invalid: input should be a finite number"),
        ("train", "lr", 0, "train.lr = 0 is invalid: input should be greater than 0"),
        ("train", "lr", "fast", "train.lr = 'fast' is invalid: input should be a valid number, unable to parse string as a number"),
        ("train", "steps", 0, "train.steps = 0 is invalid: input should be greater than or equal to 1"),
        ("train", "steps", 2.5, "train.steps = 2.5 is invalid: input should be a valid integer"),
        ("split", "test", 0.2, "split.train + split.val + split.test = 1.1, must be 1"),
        ("split", "val", 0, "split.val = 0 is invalid: input should be greater than 0"),
        ("sample", "num", 0, "sample.num = 0 is invalid: input should be greater than or equal to 1"),
        ("sample", "temperature", 0, "sample.temperature = 0 is invalid: input should be greater than 0"),
        ("sample", "top_k", 0, "sample.top_k = 0 is invalid: input should be greater than or equal to 1"),
        ("sample", "top_k", "all", "sample.top_k = 'all' is invalid: input should be a valid integer"),
        ("sample", "num", 10**6 + 1, "sample.num = 1000001 is invalid: input should be less than or equal to 1000000"),
        ("sample", "max_len", 1001, "sample.max_len = 1001 is invalid: input should be less than or equal to 1000"),
        ("data", "max_len", 0, "data.max_len = 0 is invalid: input should be greater than or equal to 1"),
        ("split", "seed", 2**70, f"split.seed = {2**70} is invalid: input should be less than or equal to {MAX_SEED}"),
        ("train", "seed", -1, "train.seed = -1 is invalid: input should be greater than or equal to 0"),
        ("sample", "seed", 2**64, f"sample.seed = {2**64} is invalid: input should be less than or equal to {MAX_SEED}"),
        ("count", "smothing", 0.5, "unknown key 'count.smothing' (did you mean 'smoothing'?)"),
    ],
)
def test_bad_params_name_the_key_and_value(workdir, section, key, value, message):
    set_params(workdir, **{f"{section}__{key}": float("nan") if value == ".nan" else value})
    with pytest.raises(MakemoreError) as error:
        load_params(workdir / "params.yaml")
    assert str(error.value) == f"{workdir / 'params.yaml'}: {message}"


def test_the_seed_range_is_what_torch_generator_takes():
    torch.Generator().manual_seed(0)
    torch.Generator().manual_seed(MAX_SEED)
    with pytest.raises(ValueError):
        torch.Generator().manual_seed(MAX_SEED + 1)


def test_a_misspelt_section_is_named_before_the_missing_one(workdir):
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["cuont"] = params.pop("count")
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(MakemoreError, match=r"params.yaml: unknown key 'cuont' \(did you mean 'count'\?\)$"):
        load_params(workdir / "params.yaml")
    del params["cuont"]
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(MakemoreError, match=r"params.yaml: missing key 'count'$"):
        load_params(workdir / "params.yaml")


def test_a_bad_param_stops_the_stage_in_one_line(workdir):
    set_params(workdir, count__smoothing=-0.5)
    assert_fails_with(stage_in_process(workdir, "prepare"), "params.yaml: count.smoothing = -0.5 is invalid: input should be greater than or equal to 0")
    assert not (workdir / "data/prepared").exists()


def test_an_artifact_from_another_vocabulary_of_the_same_size_is_refused(workdir):
    build(workdir, "prepare", "bigrams", "count")
    other_model = (workdir / "data/models/count.pt").read_bytes()
    # the same number of characters, one of them different: every shape still fits
    names = (workdir / "data/names.txt").read_text().replace("v", "q")
    (workdir / "data/names.txt").write_text(names)
    build(workdir, "prepare", "bigrams")
    (workdir / "data/models/count.pt").write_bytes(other_model)
    assert_fails_with(
        stage_in_process(workdir, "evaluate", "count"),
        "data/models/count.pt: made with another vocabulary than data/prepared/vocab.json (run `dvc repro`)",
    )


@pytest.mark.parametrize(
    ("tensors", "message"),
    [
        ({"W": "probs"}, "data/models/count.pt: has no 2-D 'probs' tensor (not written by this pipeline's stage)"),
        ({"probs": "probs", "vocabulary": "not-a-tensor"}, "data/models/count.pt: made with another vocabulary than data/prepared/vocab.json (run `dvc repro`)"),
        ({"probs": "uniform-3x3"}, "data/models/count.pt: not a 18x18 table of probabilities (corrupt)"),
        ({"probs": "rows-sum-to-2"}, "data/models/count.pt: not a 18x18 table of probabilities (corrupt)"),
        ({"probs": "nan"}, "data/models/count.pt: not a 18x18 table of probabilities (corrupt)"),
    ],
)
def test_a_model_with_the_right_vocabulary_but_wrong_content_is_refused(workdir, tensors, message):
    build(workdir, "prepare", "bigrams")
    vocab = json.loads((workdir / "data/prepared/vocab.json").read_text())
    size = len(vocab["chars"]) + 1
    assert size == 18
    made = {
        "probs": torch.full((size, size), 1 / size),
        "uniform-3x3": torch.full((3, 3), 1 / 3),
        "rows-sum-to-2": torch.full((size, size), 2 / size),
        "nan": torch.full((size, size), float("nan")),
        "not-a-tensor": [ord(c) for c in vocab["chars"]],
    }
    archive = {"vocabulary": torch.tensor([ord(c) for c in vocab["chars"]], dtype=torch.int32)}
    archive |= {key: made[value] for key, value in tensors.items()}
    (workdir / "data/models").mkdir(parents=True)
    torch.save(archive, workdir / "data/models/count.pt")
    assert_fails_with(stage_in_process(workdir, "evaluate", "count"), message)


def test_a_truncated_artifact_is_never_read_as_valid(workdir):
    build(workdir, "prepare", "bigrams")
    counts = (workdir / "data/bigrams/counts.pt").read_bytes()
    for size in (0, 100, len(counts) // 2, len(counts) - 1):
        (workdir / "data/bigrams/counts.pt").write_bytes(counts[:size])
        assert_fails_with(
            stage_in_process(workdir, "count"),
            "data/bigrams/counts.pt: not a readable tensor file (corrupt, or not written by this pipeline)",
        )
    assert not (workdir / "data/models").exists()


# --- the command's contract, in real processes ---------------------------------------------------------


@pytest.mark.parametrize("args", [[], ["gpt"], ["count", "nn"]])
def test_a_model_stage_without_one_known_model_shows_its_usage(workdir, args):
    assert_fails_with(stage_in_process(workdir, "evaluate", *args), f"usage: python {ROOT / 'stages/evaluate.py'} MODEL, where MODEL is one of count, nn")


def test_a_stage_command_fails_with_one_line_on_stderr_and_status_1(workdir):
    (workdir / "data/names.txt").write_bytes(b"emma\nzo\xeb\n")
    result = subprocess.run([sys.executable, str(ROOT / "stages/prepare.py")], cwd=workdir, capture_output=True, text=True)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "error: data/names.txt:2: not valid UTF-8 (byte 0xeb at column 3)\n")
    assert not (workdir / "data/prepared").exists()


class Terminal:
    """A pseudo-terminal 120 columns wide for a stage's stderr (tqdm draws nothing on a width of 0, as a new
    pty has), and what the stage has written to it so far."""

    def __init__(self):
        self.primary, self.secondary = os.openpty()
        fcntl.ioctl(self.secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.shown = b""

    def start(self, *cmd, cwd):
        process = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.secondary)
        os.close(self.secondary)
        return process

    def read_until(self, text: bytes, timeout: float = 60) -> bool:
        """Read until `text` is shown, the other end closes, or `timeout` seconds pass."""
        deadline = time.monotonic() + timeout
        while text not in self.shown and time.monotonic() < deadline:
            if select.select([self.primary], [], [], 0.1)[0]:
                try:
                    chunk = os.read(self.primary, 65536)
                except OSError:  # the other end closed: all is read
                    break
                if not chunk:
                    break
                self.shown += chunk
        return text in self.shown

    def lines(self) -> list[str]:
        return self.shown.decode().replace("\r\n", "\n").replace("\r", "\n").split("\n")


@pytest.mark.parametrize("moment", ["while-importing-torch", "while-training"])
def test_ctrl_c_stops_a_stage_with_one_line_and_no_output(workdir, moment):
    build(workdir, "prepare", "bigrams")
    set_params(workdir, train__steps=10**9)
    terminal = Terminal()
    stage = terminal.start(sys.executable, str(ROOT / "stages/train.py"), cwd=workdir)
    if moment == "while-importing-torch":  # its shared library is loaded: the import has begun, and goes on for a second
        maps = Path(f"/proc/{stage.pid}/maps")
        deadline = time.monotonic() + 60
        while "libtorch" not in maps.read_text() and time.monotonic() < deadline:
            time.sleep(0.01)
    else:  # the progress bar is drawn: the loop runs. The bar is redrawn once a second: land between two drawings
        assert terminal.read_until(b"steps")
        time.sleep(0.3)
    stage.send_signal(signal.SIGINT)
    assert stage.wait(timeout=60) == -signal.SIGINT  # dies of SIGINT, as the shell and DVC expect of a Ctrl-C
    terminal.read_until(b"\0", timeout=1)  # the rest of what it wrote
    assert stage.stdout.read() == b""
    assert b"Traceback" not in terminal.shown and terminal.lines()[-2:] == ["interrupted", ""]
    assert not (workdir / "data/models").exists() and not (workdir / "metrics").exists()


def test_long_training_shows_progress_on_a_terminal(workdir):
    build(workdir, "prepare", "bigrams")
    set_params(workdir, train__steps=10_000)  # about 3 s: the bar is drawn after the first half second
    terminal = Terminal()
    stage = terminal.start(sys.executable, str(ROOT / "stages/train.py"), cwd=workdir)
    assert stage.wait(timeout=60) == 0
    terminal.read_until(b"\0", timeout=1)
    final = [line for line in terminal.lines() if line.startswith("train: 10000/10000 steps")]
    assert final and "train NLL" in final[-1] and "elapsed" in final[-1] and "left]" in final[-1]
    rows = (workdir / "metrics/train/loss.csv").read_text().splitlines()
    assert rows[-1].startswith("10000,")
