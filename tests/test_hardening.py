"""The pipeline under stress: two runs at once (with the real `dvc`), any alphabet, outliers in the data."""

import json
import os
import shutil
import stat
import subprocess
import unicodedata

import pandas as pd
import pytest
import yaml
from helpers import ROOT, set_params, stage_in_process

from makemore.artifacts import write_text

ALL_MODELS = yaml.safe_load((ROOT / "params.yaml").read_text())["models"]
# one of each kind (lecture count, lecture net, Kneser-Ney): the others add time, not cases
MODELS = ["count", "nn", "kneser_ney"]
# dvc.yaml's order
STAGES = [
    "prepare",
    *(f"{stage}@{model}" for stage in ("train", "evaluate", "sample") for model in MODELS),
    "bigrams",
    "plot_counts",
    "plot_nn",
]


def test_a_second_repro_while_one_runs_fails_clearly_and_a_forced_rerun_changes_no_byte(project):
    before, lock = project.outputs(), project.lock_without_times()
    # train@nn and what it needs (prepare), forced: about 8 s. On one machine, every rerun gives the same bytes
    # (tests/test_pipeline.py's rerun tests); on another, the same numbers within a tolerance (tests/tolerance.py).
    first = subprocess.Popen(
        ["dvc", "repro", "--force", "train@nn"],
        cwd=project.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # "Running stage 'prepare':": the first run holds its locks from here on
    started = first.stdout.readline()
    second = project.dvc("repro", check=False)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert (started + out).count("Running stage") == 2
    assert project.lock_without_times() == lock  # the training time, and its hash, are new on every run
    assert second.returncode != 0
    # DVC's repo lock while it plans, its per-output locks while a stage runs: either names the other run
    # ("... '.../data/prepared' is busy, it is being blocked by: (PID 4242): dvc repro --force").
    assert "Unable to acquire lock" in second.stderr or "is busy, it is being blocked by" in second.stderr, (
        second.stderr
    )
    assert project.outputs() == before
    assert "Data and pipelines are up to date" in project.dvc("status").stdout


def test_a_stage_runs_the_makemore_of_its_own_checkout(project):
    """Two clones may share one environment, whose editable install points at one of them (here ROOT): each
    stage must still run the code whose hashes DVC records, its own checkout's."""
    package = project.path / "makemore/__init__.py"
    package.write_text(package.read_text() + '\nraise SystemExit("error: the makemore of the copy")\n')
    project.repro("prepare", check=False)
    assert project.last.returncode != 0
    assert "error: the makemore of the copy" in project.last.stderr


def many_scripts_words() -> list[str]:
    """Names in many scripts, with accents (precomposed and combining), emoji and CJK: over 256 characters."""
    alphabets = [
        "abcdefghijklmnopqrstuvwxyz",
        "àáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿāăąćĉċčďđēĕėęěĝğġģĥħĩīĭįıĵķĺļľŀłńņňŉŋōŏőœŕŗřśŝşšţťŧũūŭůűųŵŷźżž",
        "αβγδεζηθικλμνξοπρστυφχψω",
        "абвгдежзийклмнопрстуфхцчшщъыьэюя",
        "אבגדהוזחטיכלמנסעפצקרשת",
        "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
        "अआइईउऊएऐओऔकखगघचछजझटठडढणतथदधनपफबभमयरलवशषसह",
        "李王张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎",
        "가나다라마바사아자차카타파하",
        "😀🚀🌸🎉",
    ]
    words = []
    for alphabet in alphabets:
        for i in range(len(alphabet)):
            words.append(
                alphabet[i] + alphabet[(i * 7 + 3) % len(alphabet)] + alphabet[(i * 3 + 1) % len(alphabet)]
            )
            words.append(alphabet[(i * 5 + 2) % len(alphabet)] + alphabet[i])
    # combining marks
    words += [unicodedata.normalize("NFD", w) for w in ("zoë", "chloé", "renée")]
    return words


def run_pipeline(workdir, words, stages=STAGES, **params):
    """The stages in dvc.yaml's order, in this process, on `words`, with some params changed."""
    shutil.copy(ROOT / "params.yaml", workdir / "params.yaml")
    set_params(workdir, models={name: ALL_MODELS[name] for name in MODELS}, **params)
    write_text(workdir / "data/names.txt", "".join(f"{w}\n" for w in words))
    results = [stage_in_process(workdir, *stage.split("@")) for stage in stages]
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    return results


def test_more_than_256_characters_run_end_to_end_and_round_trip(tmp_path):
    words = many_scripts_words()
    results = run_pipeline(tmp_path, words, data__normalize="none")  # the combining marks kept as they are

    vocab = json.loads((tmp_path / "data/prepared/vocab.json").read_text(encoding="utf-8"))
    assert vocab["chars"] == sorted(set("".join(words)))
    assert len(vocab["chars"]) > 256 and "\u0301" in vocab["chars"]  # the combining acute accent is a token
    prepared = sum(
        (
            (tmp_path / f"data/prepared/{s}.txt").read_text(encoding="utf-8").split("\n")[:-1]
            for s in ("train", "val", "test")
        ),
        [],
    )
    assert sorted(prepared) == sorted(words)  # not normalised, not reordered inside a word: byte for byte

    for model in MODELS:
        metrics = json.loads((tmp_path / f"metrics/evaluate/{model}.json").read_text())
        assert metrics["train"]["nll"] > 0
        samples = (tmp_path / f"data/samples/{model}.txt").read_text(encoding="utf-8").split("\n")[:-1]
        assert set("".join(samples)) <= set(vocab["chars"])
    assert any("not drawn" in r.stderr for r in results)


def test_outliers_and_long_runs_keep_the_committed_files_small(tmp_path):
    names = (ROOT / "data/names.txt").read_text().split()[:2000]
    words = names[:1000] + ["a" * 1_000_000, "b" * 1000] + names[1000:]
    # PNGs of at most 60 x 60 cells
    without_grids = [stage for stage in STAGES if not stage.startswith("plot_")]
    results = run_pipeline(
        tmp_path, words, without_grids, data__max_len=1000, models__nn__steps=3000, sample__max_len=1000
    )

    assert results[0].stderr.splitlines() == [
        "warning: data/names.txt: dropped 1 word(s) longer than data.max_len = 1000 characters (the first at line 1001)"
    ]
    loss = pd.read_csv(tmp_path / "metrics/train/nn/plots/metrics/train/nll.tsv", sep="\t")
    assert len(loss) <= 1001 and loss["step"].iloc[-1] == 3000 and loss["step"].is_monotonic_increasing
    lengths = pd.read_csv(tmp_path / "metrics/sample/count_lengths.csv")
    # the 1000-character word is kept: the CSV has a row per length up to it
    assert lengths["length"].max() == 1000
    committed = [p for p in (tmp_path / "metrics").rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in committed) < 300_000


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_artifacts_are_written_with_the_umasks_permissions(tmp_path, umask):
    previous = os.umask(umask)
    try:
        write_text(tmp_path / "out.txt", "x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == 0o666 & ~umask
