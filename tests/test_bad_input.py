"""Bad data and bad params: one clear line, a non-zero exit, no output left behind.

The stages run in this process (helpers.run_stage), which is what they do under DVC less the interpreter's
start; the subprocess tests at the end hold the contract of the real command: exit status and stderr.
"""

import fcntl
import hashlib
import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
import tracemalloc
from pathlib import Path

import pytest
import torch
import yaml
from helpers import ROOT, default_words, set_params, stage_in_process

from makemore import MakemoreError, artifacts
from makemore.api import Project
from makemore.artifacts import read_words
from makemore.models import instance_config
from makemore.models.files import checksum
from makemore.params import MAX_SEED, load_params
from makemore.serve import scored


@pytest.fixture
def workdir(tmp_path):
    """A directory with the default params and a small data file, where stage scripts run."""
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "data").mkdir()
    (tmp_path / "data/names.txt").write_text(
        "emma\nolivia\nava\nisabella\nsophia\nmia\ncharlotte\namelia\nevelyn\nabigail\nharper\nemily\n"
    )
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
    assert sorted(p.name for p in (workdir / "data/prepared").iterdir()) == [
        "test.txt",
        "train.txt",
        "val.txt",
        "vocab.json",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"",
            "data/names.txt: no words (the file is empty, or has only blank lines or words that are too long)",
        ),
        (
            b"\n  \r\n\t\n",
            "data/names.txt: no words (the file is empty, or has only blank lines or words that are too long)",
        ),
        (b"emma\nzo\xeb\nava\n", "data/names.txt:2: not valid UTF-8 (byte 0xeb at column 3)"),
    ],
    ids=["empty", "blank", "latin-1"],
)
def test_bad_data_is_named_with_its_line_and_leaves_no_output(workdir, content, message):
    (workdir / "data/names.txt").write_bytes(content)
    assert_fails_with(stage_in_process(workdir, "prepare"), message)
    assert not (workdir / "data/prepared").exists()


def test_a_device_or_a_pipe_is_refused_as_data(workdir):
    set_params(workdir, data__path="/dev/zero")  # endless, with no line end: read line by line it never ends
    assert_fails_with(
        stage_in_process(workdir, "prepare"), "/dev/zero: not a regular file (a file of words, one per line)"
    )
    assert not (workdir / "data/prepared").exists()


def test_a_full_disk_fails_in_one_line_and_leaves_no_file(workdir):
    build(workdir, "prepare")
    models = workdir / "data/models"
    models.mkdir()
    if (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(models)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("mounting a small tmpfs needs root")
    try:
        assert_fails_with(
            stage_in_process(workdir, "train", "kneser_ney"),
            "data/models/kneser_ney.pt: cannot write it (no space left on device)",
        )
        assert list(models.iterdir()) == []
    finally:
        subprocess.run(["umount", str(models)], check=True)


def test_a_full_disk_while_prepare_splits_fails_in_one_line(workdir):
    (workdir / "data/names.txt").write_text("".join(f"{word}\n" for word in default_words()))  # 230 KB
    prepared = workdir / "data/prepared"
    prepared.mkdir(parents=True)
    mounted = ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(prepared)]
    if subprocess.run(mounted, capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        result = stage_in_process(workdir, "prepare")
        assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stderr.startswith("error: splitting the words: Could not write file")
        assert result.stderr.rstrip().endswith("No space left on device")
        assert not [p.name for p in prepared.iterdir() if p.name.endswith(".tmp")]
    finally:
        subprocess.run(["umount", str(prepared)], check=True)


def test_a_missing_data_file_or_a_directory_is_named(workdir):
    set_params(workdir, data__path="data/nope.txt")
    assert_fails_with(stage_in_process(workdir, "prepare"), "data/nope.txt: no such file or directory")
    set_params(workdir, data__path="data")
    assert_fails_with(stage_in_process(workdir, "prepare"), "data: is a directory, not a file of words")


@pytest.mark.parametrize("char", ["\t", "\x00", "\x1b", "\x7f", "\x85", "\u2028"])
def test_a_control_character_inside_a_word_is_refused_with_its_line_and_column(workdir, char):
    # the tab after x is stripped
    (workdir / "data/names.txt").write_text(f"emma\nava\n  mia{char}x\t\nzoe\n", encoding="utf-8")
    assert_fails_with(
        stage_in_process(workdir, "prepare"),
        f"data/names.txt:3: control character U+{ord(char):04X} at column 6 (one word per line, no tabs or control characters)",
    )
    assert not (workdir / "data/prepared").exists()


@pytest.mark.parametrize(
    ("char", "name"),
    [("\ufeff", "byte order mark"), ("\u200d", "zero width joiner"), ("\u200f", "right-to-left mark")],
)
def test_an_invisible_format_character_is_refused_with_its_line_and_column(workdir, char, name):
    (workdir / "data/names.txt").write_text(f"emma\nava\n  mia{char}x\nzoe\n", encoding="utf-8")
    assert_fails_with(
        stage_in_process(workdir, "prepare"),
        f"data/names.txt:3: format character U+{ord(char):04X} ({name}) at column 6 (invisible: not part of a word; "
        "a byte order mark may only open the file)",
    )
    assert not (workdir / "data/prepared").exists()


@pytest.mark.parametrize(("normalize", "distinct"), [("nfc", 13), ("none", 14)])
def test_a_word_written_two_ways_is_one_word_in_nfc(workdir, normalize, distinct):
    names = workdir / "data/names.txt"
    names.write_text(
        names.read_text() + "zo\u00e9\nzoe\u0301\n", encoding="utf-8"
    )  # é composed, and decomposed
    set_params(workdir, data__normalize=normalize)
    build(workdir, "prepare")
    assert json.loads((workdir / "metrics/prepare.json").read_text())["distinct"] == distinct
    chars = json.loads((workdir / "data/prepared/vocab.json").read_text())["chars"]
    assert ("\u00e9" in chars, "\u0301" in chars) == (True, normalize == "none")


def test_a_scored_word_is_normalised_as_params_yaml_says(workdir):
    shutil.copy(ROOT / "dvc.yaml", workdir)
    names = workdir / "data/names.txt"
    names.write_text(names.read_text() + "zo\u00e9\n", encoding="utf-8")
    build(workdir, "prepare", "train@count")
    composed, decomposed = (
        Project(workdir).score(["zo\u00e9", "zoe\u0301"], ["count"]).groupby("word", sort=False)
    )
    assert decomposed[1]["token"].tolist() == ["z", "o", "\u00e9", "."]
    assert decomposed[1]["p"].tolist() == composed[1]["p"].tolist()
    on_the_page = scored(decomposed[1])  # the page shows the word its tokens spell
    assert (on_the_page["word"], on_the_page["tokens"]) == ("zo\u00e9", ["z", "o", "\u00e9", "."])
    with pytest.raises(MakemoreError) as refused:
        Project(workdir).score(["a\u200db"], ["count"])
    assert (
        str(refused.value)
        == "cannot score 'a\\u200db': format character U+200D (zero width joiner) at column 2"
    )
    set_params(workdir, data__normalize="none")
    with pytest.raises(MakemoreError) as refused:
        Project(workdir).score(["zoe\u0301"], ["count"])
    vocab = workdir / "data/prepared/vocab.json"
    assert (
        str(refused.value)
        == f"cannot score 'zoe\u0301': character '\u0301' is not in the vocabulary ({vocab})"
    )


def test_words_longer_than_max_len_are_dropped_with_one_warning(workdir):
    names = (workdir / "data/names.txt").read_text().split()
    (workdir / "data/names.txt").write_text(
        "\n".join(names[:3] + ["x" * 1_000_000] + names[3:] + ["y" * 51]) + "\n"
    )
    result = stage_in_process(workdir, "prepare")
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        "warning: data/names.txt: dropped 2 word(s) longer than data.max_len = 50 characters (the first at line 4)"
    ]
    kept = sum(
        ((workdir / f"data/prepared/{s}.txt").read_text().split() for s in ("train", "val", "test")), []
    )
    assert sorted(kept) == sorted(names)

    (workdir / "data/names.txt").write_text("x" * 51 + "\n")
    result = stage_in_process(workdir, "prepare")
    assert (
        result.stderr.splitlines()[-1]
        == "error: data/names.txt: no words (the file is empty, or has only blank lines or words that are too long)"
    )


def test_a_split_too_small_for_the_data_is_refused_before_writing(workdir):
    set_params(workdir, split__train=0.98)
    set_params(workdir, split__val=0.01)
    set_params(workdir, split__test=0.01)
    assert_fails_with(
        stage_in_process(workdir, "prepare"),
        "split.val = 0.01 leaves the val split empty with 12 distinct words",
    )
    assert not (workdir / "data/prepared").exists()


@pytest.mark.parametrize("duplicates", ["drop", "keep"])
def test_repeated_lines_never_fall_in_two_splits_and_prepare_reports_them(workdir, duplicates):
    names = default_words()[:500]
    # each name on 3 lines
    (workdir / "data/names.txt").write_text("".join(f"{name}\n" for name in names * 3))
    set_params(workdir, data__duplicates=duplicates)
    result = stage_in_process(workdir, "prepare")
    assert result.returncode == 0, result.stderr
    splits = {
        name: (workdir / f"data/prepared/{name}.txt").read_text().split() for name in ("train", "val", "test")
    }
    assert not (
        set(splits["train"]) & set(splits["val"])
        or set(splits["train"]) & set(splits["test"])
        or set(splits["val"]) & set(splits["test"])
    )
    copies = 3 if duplicates == "keep" else 1
    assert sorted(sum(splits.values(), [])) == sorted(names * copies)
    dropped = 0 if duplicates == "keep" else 1000
    assert (
        result.stderr
        == f"data/names.txt: 1,000 of 1,500 words repeat an earlier line; data.duplicates = {duplicates}: {dropped:,} dropped\n"
    )
    report = json.loads((workdir / "metrics/prepare.json").read_text())
    assert report == {
        "words": 1500,
        "distinct": 500,
        "repeats": 1000,
        "dropped": dropped,
        **{name: len(split) for name, split in splits.items()},
    }
    # the fractions of the distinct words
    assert [report[name] // copies for name in ("train", "val", "test")] == [400, 50, 50]


def test_crlf_and_surrounding_whitespace_are_stripped(workdir):
    (workdir / "data/names.txt").write_bytes(
        b"\xef\xbb\xbfemma\r\n  ava \r\n\r\nmia\nzoe\nli\nbo\nal\nel\ncy\nty\n"
    )
    assert stage_in_process(workdir, "prepare").returncode == 0
    words = sum(
        ((workdir / f"data/prepared/{s}.txt").read_text().split("\n")[:-1] for s in ("train", "val", "test")),
        [],
    )
    assert sorted(words) == sorted(["emma", "ava", "mia", "zoe", "li", "bo", "al", "el", "cy", "ty"])


@pytest.mark.parametrize(
    ("lr", "reg", "message"),
    [
        (1e30, 0, "models.nn.lr = 1e+30 is too large: the loss became"),
        (1e30, 0.01, "models.nn.lr = 1e+30 and reg = 0.01 are too large together: the loss became"),
        (50, 1e6, "models.nn.lr = 50 and reg = 1e+06 are too large together: the loss became"),
        (
            50,
            1e308,
            "models.nn.reg = 1e+308 is too large: the L2 term reg * mean(W^2) is inf before the first step",
        ),
    ],
)
def test_a_diverging_training_run_names_the_param_to_blame_and_writes_no_model(workdir, lr, reg, message):
    build(workdir, "prepare")
    set_params(workdir, models__nn__lr=lr, models__nn__reg=reg)
    result = stage_in_process(workdir, "train", "nn")
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"error: {message}")
    assert not (workdir / "data/models").exists() and not (workdir / "metrics/train").exists()


def test_a_k_that_overflows_the_model_is_refused_where_it_is_made(workdir):
    build(workdir, "prepare")
    set_params(workdir, models__count__k=1e308)
    assert_fails_with(
        stage_in_process(workdir, "train", "count"),
        "models.count.k = 1e+308 is too large: c(h) + k * V overflows",
    )
    assert not (workdir / "data/models").exists()
    set_params(workdir, models__count__k=1e300)  # large, but every distribution is still one: uniform
    build(workdir, "train@count", "evaluate@count")


def test_a_model_file_that_is_not_a_tensor_archive_is_a_clear_error(workdir):
    assert stage_in_process(workdir, "prepare").returncode == 0
    (workdir / "data/models").mkdir(parents=True)
    (workdir / "data/models/count.pt").write_bytes(b"garbage")
    assert_fails_with(
        stage_in_process(workdir, "evaluate", "count"),
        "data/models/count.pt: not a readable tensor file (corrupt, or not written by this pipeline)",
    )


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("split__test", 0.2, "split.train + split.val + split.test = 1.1, must be 1"),
        ("split__val", 0, "split.val = 0 is invalid: input should be greater than 0"),
        ("sample__num", 0, "sample.num = 0 is invalid: input should be greater than or equal to 1"),
        ("sample__temperature", 0, "sample.temperature = 0 is invalid: input should be greater than 0"),
        ("sample__top_k", 0, "sample.top_k = 0 is invalid: input should be greater than or equal to 1"),
        ("sample__top_k", "all", "sample.top_k = 'all' is invalid: input should be a valid integer"),
        (
            "sample__num",
            10**6 + 1,
            "sample.num = 1000001 is invalid: input should be less than or equal to 1000000",
        ),
        (
            "sample__max_len",
            1001,
            "sample.max_len = 1001 is invalid: input should be less than or equal to 1000",
        ),
        ("data__max_len", 0, "data.max_len = 0 is invalid: input should be greater than or equal to 1"),
        ("data__normalize", "nfkc", "data.normalize = 'nfkc' is invalid: input should be 'nfc' or 'none'"),
        (
            "split__seed",
            2**70,
            f"split.seed = {2**70} is invalid: input should be less than or equal to {MAX_SEED}",
        ),
        (
            "sample__seed",
            2**64,
            f"sample.seed = {2**64} is invalid: input should be less than or equal to {MAX_SEED}",
        ),
        ("sample__nmu", 5, "unknown key 'sample.nmu' (did you mean 'num'?)"),
        (
            "models",
            {},
            "models = {} is invalid: dictionary should have at least 1 item after validation, not 0",
        ),
        (
            "models",
            {"a.b": {"family": "ngram"}},
            "models: the name 'a.b' is not a plain name (letters, digits, _ and - only)",
        ),
        ("models__count", 3, "models.count must be a mapping of keys to values, not 3"),
    ],
)
def test_bad_params_name_the_key_and_value(workdir, key, value, message):
    set_params(workdir, **{key: value})
    with pytest.raises(MakemoreError) as error:
        load_params(workdir / "params.yaml")
    assert str(error.value) == f"{workdir / 'params.yaml'}: {message}"


@pytest.mark.parametrize(
    ("model", "key", "value", "message"),
    [
        ("count", "k", -1, "models.count.k = -1 is invalid: input should be greater than or equal to 0"),
        ("count", "k", float("nan"), "models.count.k = nan is invalid: input should be a finite number"),
        (
            "count",
            "family",
            "ngrams",
            "models.count.family = 'ngrams' is not a model family (the families: ngram, onelayer, mlp, wavenet, bow, rnn, transformer)",
        ),
        (
            "count",
            "order",
            0,
            "models.count.order = 0 is invalid: input should be greater than or equal to 1",
        ),
        (
            "count",
            "order",
            11,
            "models.count.order = 11 is invalid: input should be less than or equal to 10",
        ),
        (
            "count",
            "smoothing",
            "good-turing",
            "models.count.smoothing = 'good-turing' is invalid: input should be 'additive' or 'kneser_ney'",
        ),
        ("count", "lr", 50, "unknown key 'models.count.lr' (known keys: order, smoothing, k, discounts)"),
        (
            "count",
            "discounts",
            [0.5, 1, 1.5],
            "models.count: discounts are for kneser_ney smoothing; additive takes k",
        ),
        ("kneser_ney", "k", 1, "models.kneser_ney: k is for additive smoothing; kneser_ney takes discounts"),
        (
            "kneser_ney",
            "discounts",
            [0, 1, 1.5],
            "models.kneser_ney: discounts = [0.0, 1.0, 1.5]: D1 = 0 must be between 0 and 1, a part of a count of 1",
        ),
        (
            "kneser_ney",
            "discounts",
            [0.5, 1, 3],
            "models.kneser_ney: discounts = [0.5, 1.0, 3.0]: D3+ = 3 must be between 0 and 3, a part of a count of 3",
        ),
        (
            "kneser_ney",
            "discounts",
            [0.5, 1],
            "models.kneser_ney.discounts = [0.5, 1] is invalid: list should have at least 3 items after validation, not 2",
        ),
        (
            "kneser_ney",
            "dicsounts",
            None,
            "unknown key 'models.kneser_ney.dicsounts' (did you mean 'discounts'?)",
        ),
        ("nn", "lr", 0, "models.nn.lr = 0 is invalid: input should be greater than 0"),
        ("nn", "lr", "fast", "models.nn.lr = 'fast' is invalid: input should be a valid number"),
        ("nn", "lr", True, "models.nn.lr = True is invalid: input should be a valid number"),
        ("nn", "lr", "0.5", "models.nn.lr = '0.5' is invalid: input should be a valid number"),
        (
            "mlp",
            "layernorm",
            "off",
            "models.mlp.layernorm = 'off' is invalid: input should be a valid boolean",
        ),
        ("nn", "steps", 2.5, "models.nn.steps = 2.5 is invalid: input should be a valid integer"),
        ("nn", "seed", -1, "models.nn.seed = -1 is invalid: input should be greater than or equal to 0"),
        ("nn", "k", 1, "unknown key 'models.nn.k' (known keys: order, lr, steps, reg, seed)"),
    ],
)
def test_bad_model_params_name_the_model_the_key_and_the_value(workdir, model, key, value, message):
    set_params(workdir, **{f"models__{model}__{key}": value})
    with pytest.raises(MakemoreError) as error:
        instance_config(model, workdir / "params.yaml")
    assert str(error.value) == f"{workdir / 'params.yaml'}: {message}"


@pytest.mark.parametrize(
    "model, sizes, message",
    [
        (
            "mlp",
            {"context": 64, "embedding": 4096, "hidden": 65536},
            "models.big.hidden = 65536 is too large: training would need about",
        ),
        (
            "gru",
            {"hidden": 4096, "batch_size": 65536},
            "models.big.batch_size = 65536 is too large: training would need about",
        ),
    ],
)
def test_a_net_too_large_for_the_memory_is_refused_before_it_is_built(workdir, model, sizes, message):
    build(workdir, "prepare")
    set_params(workdir, models__big=instance_config(model, workdir / "params.yaml").model_dump() | sizes)
    result = stage_in_process(workdir, "train", "big")
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1
    assert (
        result.stderr.startswith(f"error: {message}")
        and "GB of memory" in result.stderr
        and result.stderr.rstrip().endswith("GB of this machine")
    )
    assert not (workdir / "data/models").exists() and not (workdir / "metrics/train").exists()


def test_the_seed_range_is_what_torch_generator_takes():
    torch.Generator().manual_seed(0)
    torch.Generator().manual_seed(MAX_SEED)
    with pytest.raises(ValueError):
        torch.Generator().manual_seed(MAX_SEED + 1)


def test_a_misspelt_section_is_named_before_the_missing_one(workdir):
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["modles"] = params.pop("models")
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(
        MakemoreError, match=r"params.yaml: unknown key 'modles' \(did you mean 'models'\?\)$"
    ):
        load_params(workdir / "params.yaml")
    del params["modles"]
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(MakemoreError, match=r"params.yaml: missing key 'models'$"):
        load_params(workdir / "params.yaml")


@pytest.mark.parametrize(
    ("section", "hint"),
    [
        ("mixtures", "`mixtures: {}` for none, and no mix_NAME stage in dvc.yaml"),
        ("compare", "`compare: {}` for its defaults"),
    ],
)
def test_a_section_of_the_compare_stages_params_must_be_there_even_if_empty(workdir, section, hint):
    """DVC refuses to run the compare stage without it: the project says so first, in every stage."""
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    del params[section]
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    assert_fails_with(stage_in_process(workdir, "prepare"), f"params.yaml: missing key '{section}' ({hint})")


def test_a_bad_param_stops_the_stage_that_uses_it_in_one_line(workdir):
    set_params(workdir, split__seed=-5)
    assert_fails_with(
        stage_in_process(workdir, "prepare"),
        "params.yaml: split.seed = -5 is invalid: input should be greater than or equal to 0",
    )
    assert not (workdir / "data/prepared").exists()
    set_params(workdir, split__seed=42, models__count__k=-0.5)
    build(workdir, "prepare")  # a model's params are its train stage's business
    assert_fails_with(
        stage_in_process(workdir, "train", "count"),
        "params.yaml: models.count.k = -0.5 is invalid: input should be greater than or equal to 0",
    )
    assert_fails_with(
        stage_in_process(workdir, "train", "gpt"),
        f"models.gpt: no such model in params.yaml (its models: {', '.join(load_params(workdir / 'params.yaml').instances)})",
    )
    assert not (workdir / "data/models").exists()


def test_an_artifact_from_another_vocabulary_of_the_same_size_is_refused(workdir):
    build(workdir, "prepare", "train@count")
    other_model = (workdir / "data/models/count.pt").read_bytes()
    # the same number of characters, one of them different: every shape still fits
    names = (workdir / "data/names.txt").read_text().replace("v", "q")
    (workdir / "data/names.txt").write_text(names)
    build(workdir, "prepare")
    (workdir / "data/models/count.pt").write_bytes(other_model)
    assert_fails_with(
        stage_in_process(workdir, "evaluate", "count"),
        "data/models/count.pt: made with another vocabulary than data/prepared/vocab.json (run `dvc repro`)",
    )


@pytest.mark.parametrize(
    "damage",
    [
        "no-config",
        "unknown-family",
        "bad-config",
        "missing-tensor",
        "short-tensor",
        "unsorted-keys",
        "wrong-shape",
        "nan",
        "rows-sum-to-2",
        "not-a-dict",
    ],
)
def test_a_model_with_the_right_vocabulary_but_wrong_content_is_refused(workdir, damage):
    build(workdir, "prepare", "train@count", "train@nn")
    archive = torch.load(workdir / "data/models/count.pt", weights_only=True)
    net = torch.load(workdir / "data/models/nn.pt", weights_only=True)
    config = json.loads(archive["config"])
    if damage == "no-config":
        del archive["config"]
    elif damage == "unknown-family":
        archive["config"] = json.dumps(config | {"family": "gpt"})
    elif damage == "bad-config":
        archive["config"] = json.dumps(config | {"order": 0})
    elif damage == "missing-tensor":
        del archive["weights.1"]
    elif damage == "short-tensor":  # evaluation would index past its end
        archive["backoffs.1"] = archive["backoffs.1"][:-1]
    elif damage == "unsorted-keys":  # lookups would silently find the wrong contexts
        archive["contexts.1"] = archive["contexts.1"].flip(0)
    elif damage == "wrong-shape":
        archive = net | {"W": net["W"][:, :3]}
    elif damage == "nan":
        archive = net | {"W": torch.full_like(net["W"], float("nan"))}
    elif damage == "rows-sum-to-2":
        archive["weights.1"] = archive["weights.1"] * 2
    elif damage == "not-a-dict":
        archive = [archive["vocabulary"]]
    # written with its name and a checksum that holds: the content itself is wrong
    if isinstance(archive, dict):
        contents = {key: value for key, value in archive.items() if key not in ("checksum", "vocabulary")} | {
            "name": "count"
        }
        archive |= {"name": "count", "checksum": checksum(contents)}
    torch.save(archive, workdir / "data/models/count.pt")
    message = "data/models/count.pt: not a model written by this pipeline's train stage (corrupt, or from another version): run `dvc repro`"
    if damage == "not-a-dict":
        message = "data/models/count.pt: not written by this pipeline's stages"
    assert_fails_with(stage_in_process(workdir, "evaluate", "count"), message)


def test_a_flipped_bit_anywhere_in_a_model_file_is_refused_in_one_line_or_changes_nothing(workdir):
    build(workdir, "prepare", "train@kneser_ney", "evaluate@kneser_ney")
    model = (workdir / "data/models/kneser_ney.pt").read_bytes()
    metrics = (workdir / "metrics/evaluate/kneser_ney.json").read_bytes()
    refused = 0
    # about 100 places, in the archive's headers and its tensors
    for position in range(0, len(model), len(model) // 97):
        damaged = bytearray(model)
        damaged[position] ^= 0x10
        (workdir / "data/models/kneser_ney.pt").write_bytes(damaged)
        (workdir / "metrics/evaluate/kneser_ney.json").unlink()
        result = stage_in_process(workdir, "evaluate", "kneser_ney")
        if result.returncode == 0:  # a byte that holds nothing read (an index of the pickle's memo, say)
            measured = json.loads((workdir / "metrics/evaluate/kneser_ney.json").read_text())
            # the same NLLs, of this file
            assert measured.pop("model_sha256") == hashlib.sha256(damaged).hexdigest(), position
            assert measured == {
                split: nlls for split, nlls in json.loads(metrics).items() if split != "model_sha256"
            }
            (workdir / "metrics/evaluate/kneser_ney.json").unlink()
        else:
            assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, (position, result.stderr)
            assert result.stderr.startswith("error: data/models/kneser_ney.pt: ")
            refused += 1
        (workdir / "metrics/evaluate/kneser_ney.json").write_bytes(metrics)
    # most bytes are the tensors and their names; the rest are zip headers that the reader skips
    assert refused > 50


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            "copied",
            "data/models/count.pt: holds another model than count (copied over it?): run `dvc repro -f train@count`",
        ),
        (
            "edited",
            "data/models/count.pt: trained with other params than models.count in params.yaml (k: 0.5 now, 1.0 in the model): run `dvc repro`",
        ),
    ],
)
def test_a_model_file_that_is_not_what_params_yaml_names_is_refused(workdir, change, message):
    build(workdir, "prepare", "train@count", "train@trigram")
    if change == "copied":  # another instance's file under count's name
        shutil.copy(workdir / "data/models/trigram.pt", workdir / "data/models/count.pt")
    else:  # params.yaml edited after training, without `dvc repro`
        set_params(workdir, models__count__k=0.5)
    for stage in ("evaluate", "sample"):
        assert_fails_with(stage_in_process(workdir, stage, "count"), message)


def test_a_truncated_artifact_is_never_read_as_valid(workdir):
    build(workdir, "prepare", "train@count")
    model = (workdir / "data/models/count.pt").read_bytes()
    for size in (0, 100, len(model) // 2, len(model) - 1):
        (workdir / "data/models/count.pt").write_bytes(model[:size])
        assert_fails_with(
            stage_in_process(workdir, "evaluate", "count"),
            "data/models/count.pt: not a readable tensor file (corrupt, or not written by this pipeline)",
        )
    assert not (workdir / "metrics/evaluate").exists()


# --- the command's contract, in real processes ---------------------------------------------------------


@pytest.mark.parametrize("stage", ["train", "evaluate", "sample"])
@pytest.mark.parametrize("args", [[], ["count", "nn"]])
def test_a_model_stage_without_one_model_shows_its_usage(workdir, stage, args):
    assert_fails_with(
        stage_in_process(workdir, stage, *args),
        f"usage: python {ROOT / f'stages/{stage}.py'} NAME, where NAME is a model under `models:` in params.yaml",
    )


def test_a_stage_command_fails_with_one_line_on_stderr_and_status_1(workdir):
    (workdir / "data/names.txt").write_bytes(b"emma\nzo\xeb\n")
    result = subprocess.run(
        [sys.executable, str(ROOT / "stages/prepare.py")], cwd=workdir, capture_output=True, text=True
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "error: data/names.txt:2: not valid UTF-8 (byte 0xeb at column 3)\n",
    )
    assert not (workdir / "data/prepared").exists()


class Terminal:
    """A pseudo-terminal 120 columns wide for a stage's stderr (tqdm draws nothing on a width of 0, as a new
    pty has), and what the stage has written to it so far."""

    def __init__(self):
        self.primary, self.secondary = os.openpty()
        fcntl.ioctl(self.secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.shown = b""

    def start(self, *cmd, cwd):
        process = subprocess.Popen(
            cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.secondary
        )
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


@pytest.mark.parametrize(
    "moment, stop",
    [
        ("while-importing-torch", signal.SIGINT),
        ("while-training", signal.SIGINT),
        ("while-training", signal.SIGTERM),
    ],
)
def test_ctrl_c_or_sigterm_stops_a_stage_with_one_line_and_no_output(workdir, moment, stop):
    build(workdir, "prepare")
    set_params(workdir, models__nn__steps=10**9)
    (workdir / "stages").symlink_to(ROOT / "stages")  # run as dvc.yaml runs it
    terminal = Terminal()
    stage = terminal.start(sys.executable, "-m", "stages.train", "nn", cwd=workdir)
    # its shared library is loaded: the import has begun, and goes on for a second
    if moment == "while-importing-torch":
        maps = Path(f"/proc/{stage.pid}/maps")
        deadline = time.monotonic() + 60
        while "libtorch" not in maps.read_text() and time.monotonic() < deadline:
            time.sleep(0.01)
    else:  # the progress bar is drawn: the loop runs. The bar is redrawn once a second: land between two drawings
        assert terminal.read_until(b"steps")
        time.sleep(0.3)
    stage.send_signal(stop)
    assert stage.wait(timeout=60) == -signal.SIGINT  # dies of SIGINT, as the shell and DVC expect of a Ctrl-C
    terminal.read_until(b"\0", timeout=600)  # the rest of what it wrote, until its end of the terminal closes
    assert stage.stdout.read() == b""
    assert b"Traceback" not in terminal.shown and terminal.lines()[-2:] == ["interrupted", ""]
    assert not (workdir / "data/models").exists() and not (workdir / "metrics/train").exists()


def test_a_stage_removes_the_scratch_folders_of_runs_that_were_killed_and_keeps_those_of_live_ones(
    workdir, tmp_path
):
    temporary = tmp_path / "tmp"
    scratch = temporary / f"makemore-scratch-{os.getuid()}"
    killed = subprocess.Popen(["sleep", "60"])
    killed.kill()  # as `kill -9` of a prepare would, before it could delete its DuckDB folder
    killed.wait()
    (scratch / f"{killed.pid}-duckdb-left").mkdir(parents=True)
    (scratch / f"{killed.pid}-duckdb-left/scratch.duckdb").write_bytes(b"\0" * 4096)
    (scratch / f"{os.getpid()}-duckdb-running").mkdir()  # this process's: alive
    (workdir / "stages").symlink_to(ROOT / "stages")
    prepare = subprocess.run(
        [sys.executable, "-m", "stages.prepare"],
        cwd=workdir,
        env={**os.environ, "TMPDIR": str(temporary)},
        capture_output=True,
        text=True,
    )
    assert prepare.returncode == 0, prepare.stderr
    assert [folder.name for folder in scratch.iterdir()] == [f"{os.getpid()}-duckdb-running"]


def test_long_training_shows_progress_on_a_terminal(workdir):
    build(workdir, "prepare")
    # trains until stopped: the bar is drawn whatever the speed or load
    set_params(workdir, models__nn__steps=10**9)
    (workdir / "stages").symlink_to(ROOT / "stages")  # run as dvc.yaml runs it
    terminal = Terminal()
    stage = terminal.start(sys.executable, "-m", "stages.train", "nn", cwd=workdir)
    assert terminal.read_until(b"left]", timeout=600)
    stage.send_signal(signal.SIGINT)
    assert stage.wait(timeout=600) == -signal.SIGINT
    drawn = [line for line in terminal.lines() if line.startswith("train: ") and line.endswith("left]")]
    assert drawn and re.fullmatch(
        r"train: [\d.]+[kM]?/1000000000 steps, train NLL \d\.\d{4}, val NLL \d\.\d{4} \[.* elapsed, .* left\]",
        drawn[0],
    ), drawn


def test_a_file_read_in_small_blocks_gives_the_same_words_warnings_and_errors(tmp_path, monkeypatch, capfd):
    lines = ["\ufeffemma", " ava\r", "", "x" * 5000, "mia", "zoë", "y" * 51, *default_words()[:300]]
    path = tmp_path / "words.txt"
    path.write_text("\n".join(lines), encoding="utf-8")  # no line end at the end
    whole = read_words(path, max_len=50)
    warning = capfd.readouterr().err
    assert (
        warning
        == f"warning: {path}: dropped 2 word(s) longer than data.max_len = 50 characters (the first at line 4)\n"
    )
    assert whole == ["emma", "ava", "mia", "zoë", *default_words()[:300]]
    monkeypatch.setattr(artifacts, "BLOCK_BYTES", 7)  # lines cut across blocks, the long one never held whole
    assert read_words(path, max_len=50) == whole
    assert capfd.readouterr().err == warning
    path.write_bytes(path.read_bytes() + b"\nzo\xeb\n")
    with pytest.raises(MakemoreError, match=rf"^{re.escape(str(path))}:{len(lines) + 1}: not valid UTF-8"):
        read_words(path, max_len=50)


SPACES = b" " * 3000  # longer than the longest line held whole with data.max_len = 50 (4 * 50 + 1024 bytes)
DROPPED = object()  # a word longer than data.max_len
CONTROL = "(one word per line, no tabs or control characters)"
FORMAT = "(invisible: not part of a word; a byte order mark may only open the file)"
# Odd lines, and what the file makes of each: its word ('' for none), DROPPED, or the error after `PATH:LINE: `.
ODD_LINES = {
    "spaces and CRLF": (b"  ava \r", "ava"),
    "long spaces": (SPACES + b"zzqq" + b" " * 10, "zzqq"),
    "long tabs and CRs": (b"\t" * 3000 + b"zzqq" + b"\t\r" * 1500, "zzqq"),
    "long blank": (SPACES, ""),
    "long spaces, UTF-8": (SPACES + "zoë".encode() + SPACES, "zoë"),
    "long UTF-8 word": ("é".encode() * 3000, DROPPED),
    "long spaces, UTF-8 word": (SPACES + "é".encode() * 50, "é" * 50),
    "long word": (b"x" * 5000, DROPPED),
    "latin-1": (b"zo\xeb", "not valid UTF-8 (byte 0xeb at column 3)"),
    "long latin-1": (SPACES + b"zo\xeb", "not valid UTF-8 (byte 0xeb at column 3003)"),
    "long, cut UTF-8": (b"x" * 3000 + b"\xc3", "not valid UTF-8 (byte 0xc3 at column 3001)"),
    "long, escape then bad byte": (
        b"\x1b" + b"x" * 5000 + b"\xff",
        "not valid UTF-8 (byte 0xff at column 5002)",
    ),
    "tab": (b"mi\ta", f"control character U+0009 at column 3 {CONTROL}"),
    "lone CR": (b"a\rb", f"control character U+000D at column 2 {CONTROL}"),
    "long, escape": (SPACES + b"mi\x1ba", f"control character U+001B at column 3003 {CONTROL}"),
    "long word, NUL": (b"x" * 5000 + b"\x00", f"control character U+0000 at column 5001 {CONTROL}"),
    "long tabs inside": (
        b"x" * 3000 + b"\t" * 3000 + b"y",
        f"control character U+0009 at column 3001 {CONTROL}",
    ),
}
# Odd first lines: a byte order mark opens the file
FIRST_LINES = {
    "BOM": (b"\xef\xbb\xbfemma", "emma"),
    "BOM, long spaces": (b"\xef\xbb\xbf" + SPACES + b"zzqq", "zzqq"),
    "BOM, latin-1": (b"\xef\xbb\xbfzo\xeb", "not valid UTF-8 (byte 0xeb at column 3)"),
    "BOM, long latin-1": (b"\xef\xbb\xbf" + SPACES + b"zo\xeb", "not valid UTF-8 (byte 0xeb at column 3003)"),
    "two BOMs": (
        b"\xef\xbb\xbf\xef\xbb\xbfemma",
        f"format character U+FEFF (byte order mark) at column 1 {FORMAT}",
    ),
}


def verdict(path: Path, capfd) -> tuple[list[str] | str, str]:
    """What the reader makes of a file: its words or its error, and its warning."""
    try:
        outcome = read_words(path, max_len=50, normalize="nfc")
    except MakemoreError as e:
        outcome = str(e)
    return outcome, capfd.readouterr().err


def expected_verdict(
    path: Path, before: list[str], lineno: int, expected: object
) -> tuple[list[str] | str, str]:
    if expected is DROPPED:
        warning = f"warning: {path}: dropped 1 word(s) longer than data.max_len = 50 characters (the first at line {lineno})\n"
        return [*before, "ava"], warning
    if " " in expected:
        return f"{path}:{lineno}: {expected}", ""
    return [*before, *([expected] if expected else []), "ava"], ""


@pytest.mark.parametrize(
    ("line", "expected", "first"),
    [pytest.param(*case, False, id=name) for name, case in ODD_LINES.items()]
    + [pytest.param(*case, True, id=name) for name, case in FIRST_LINES.items()],
)
def test_a_line_has_one_verdict_wherever_a_block_cuts_it(tmp_path, monkeypatch, capfd, line, expected, first):
    path = tmp_path / "words.txt"
    if first:  # each of its first 7 bytes, and every 7th after, at a block's end
        placements = [(line + b"\nava\n", [], 1, size) for size in range(1, 8)]
    else:  # every byte of the line at a block's end in one of the 7 files, read 7 bytes at a time
        placements = [
            (b"p" * shift + b"\n" + line + b"\nava\n", ["p" * shift], 2, 7) for shift in range(1, 8)
        ]
    for content, before, lineno, block_bytes in placements:
        path.write_bytes(content)
        whole = verdict(path, capfd)
        assert whole == expected_verdict(path, before, lineno, expected)
        monkeypatch.setattr(artifacts, "BLOCK_BYTES", block_bytes)
        assert verdict(path, capfd) == whole, (content[:40], block_bytes)
        monkeypatch.undo()


def test_a_line_of_many_blocks_is_never_held_whole(tmp_path, monkeypatch, capfd):
    monkeypatch.setattr(artifacts, "BLOCK_BYTES", 1 << 18)
    path = tmp_path / "words.txt"
    path.write_bytes(b"emma\n" + b" " * (16 << 20) + b"zzqq\n" + b"x" * (16 << 20) + b"\nava\n")
    tracemalloc.start()
    try:
        assert read_words(path, max_len=50) == ["emma", "zzqq", "ava"]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 << 20  # a few blocks of 256 KiB, not a line of 16 MiB
    assert "dropped 1 word(s)" in capfd.readouterr().err
