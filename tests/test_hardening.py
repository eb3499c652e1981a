"""The pipeline under stress, with the real `dvc`: a stage killed mid-write, two runs at once, any alphabet."""

import json
import subprocess
import time
import unicodedata

import torch

from helpers import copy_project, env

# Loaded into every Python process of a run when its directory is on PYTHONPATH. In the train stage
# only, the first file written is cut off half-way and the process is killed with SIGKILL.
KILL_MID_WRITE = """
import os, signal, sys
if sys.argv and sys.argv[0].endswith("stages/train.py"):
    _fdopen = os.fdopen
    class _HalfThenDie:
        def __init__(self, f): self.f = f
        def __enter__(self): return self
        def __exit__(self, *exc): return False
        def write(self, data):
            self.f.write(data[: len(data) // 2])
            self.f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
    os.fdopen = lambda fd, mode="r", *a, **k: _HalfThenDie(_fdopen(fd, mode, *a, **k)) if "w" in mode else _fdopen(fd, mode, *a, **k)
"""


def test_a_stage_killed_mid_write_leaves_nothing_half_written_and_repro_recovers(project, tmp_path):
    before = project.outputs()
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook/sitecustomize.py").write_text(KILL_MID_WRITE)
    project.set_params(train__steps=20)

    killed = subprocess.run(
        ["dvc", "repro"], cwd=project.path, capture_output=True, text=True, env={**env(), "PYTHONPATH": str(tmp_path / "hook")}
    )
    assert killed.returncode != 0 and "Running stage 'train'" in killed.stdout
    models = project.path / "data/models"
    assert not (models / "nn.pt").exists()  # never a truncated file under the real name
    assert [p.name for p in models.iterdir() if p.name.startswith(".nn.pt.")], "the half-written temporary file"

    assert "train" in project.repro()
    assert not [p.name for p in models.iterdir() if p.name.startswith(".nn.pt.")]
    torch.load(models / "nn.pt", weights_only=True)
    project.set_params(train__steps=500)
    project.repro()
    assert project.outputs() == before
    assert "Data and pipelines are up to date" in project.dvc("status").stdout


def test_a_second_repro_while_one_runs_fails_clearly_and_corrupts_nothing(project):
    before = project.outputs()
    first = subprocess.Popen(["dvc", "repro", "--force"], cwd=project.path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)  # a forced run holds the lock for about 20 s
    second = project.dvc("repro", check=False)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert second.returncode != 0
    # DVC's repo lock while it plans, its per-output locks while a stage runs: either names the other run
    # ("... '.../data/prepared' is busy, it is being blocked by: (PID 4242): dvc repro --force").
    assert "Unable to acquire lock" in second.stderr or "is busy, it is being blocked by" in second.stderr, second.stderr
    assert project.outputs() == before
    assert "Data and pipelines are up to date" in project.dvc("status").stdout


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
            words.append(alphabet[i] + alphabet[(i * 7 + 3) % len(alphabet)] + alphabet[(i * 3 + 1) % len(alphabet)])
            words.append(alphabet[(i * 5 + 2) % len(alphabet)] + alphabet[i])
    words += [unicodedata.normalize("NFD", w) for w in ("zoë", "chloé", "renée")]  # combining marks, kept as they are
    return words


def test_more_than_256_characters_run_end_to_end_and_round_trip(tmp_path):
    words = many_scripts_words()
    project = copy_project(tmp_path, words)
    project.repro()

    vocab = json.loads((project.path / "data/prepared/vocab.json").read_text(encoding="utf-8"))
    assert vocab["chars"] == sorted(set("".join(words)))
    assert len(vocab["chars"]) > 256 and "\u0301" in vocab["chars"]  # the combining acute accent is a token
    prepared = sum(((project.path / f"data/prepared/{s}.txt").read_text(encoding="utf-8").split("\n")[:-1] for s in ("train", "val", "test")), [])
    assert sorted(prepared) == sorted(words)  # not normalised, not reordered inside a word: byte for byte

    bigrams = torch.load(project.path / "data/bigrams/train.pt", weights_only=True)
    assert bigrams["xs"].dtype == torch.int16  # 2 bytes per index: the smallest type above 256 tokens
    for model in ("count", "nn"):
        metrics = json.loads((project.path / f"metrics/evaluate/{model}.json").read_text())
        assert metrics["train"]["nll"] > 0
        samples = (project.path / f"data/samples/{model}.txt").read_text(encoding="utf-8").split("\n")[:-1]
        assert set("".join(samples)) <= set(vocab["chars"])
    assert "not drawn" in project.last.stdout + project.last.stderr
