"""Data-parallel training: a net trained by two real processes (gloo, torch's elastic launcher) against the same net
trained by one, and what happens when one of the two dies."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from helpers import ROOT, default_words, set_params, stage_in_process

from makemore.artifacts import scratch_root, write_text
from makemore.models.contexts import Positions
from makemore.vocab import Vocabulary

TINY = {
    "gru": {"family": "rnn", "cell": "gru", "embedding": 8, "hidden": 16, "layers": 1, "dropout": 0.0},
    # packed rows, split between the processes
    "transformer": {"family": "transformer", "layers": 1, "heads": 2, "embedding": 16, "dropout": 0.0},
}
# every step a row of the curve, and a checkpoint
TRAINING = {"steps": 40, "batch_size": 32, "lr": 0.01, "warmup": 5, "eval_every": 1, "seed": 3}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A folder where the train stage runs: its params, the prepared default words (1,500 of them) and the stages."""
    path = tmp_path_factory.mktemp("distributed")
    shutil.copy(ROOT / "params.yaml", path / "params.yaml")
    models = {f"{family}_{processes}": TINY[family] | TRAINING for family in TINY for processes in (1, 2)}
    set_params(path, models={name: config | {"processes": int(name[-1])} for name, config in models.items()})
    write_text(path / "data/names.txt", "".join(f"{word}\n" for word in default_words()[:1500]))
    (path / "stages").symlink_to(ROOT / "stages")  # the launcher starts `python -m stages.train NAME` here
    assert stage_in_process(path, "prepare").returncode == 0
    return path


def train(folder: Path, name: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stages.train", name], cwd=folder, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def trained_by_two(folder) -> Path:
    """The folder, with each tiny net trained by two processes."""
    for family in TINY:
        result = train(folder, f"{family}_2")
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""  # no warning, no error, no line per process
    return folder


def curve(folder: Path, name: str, split: str) -> pd.Series:
    logged = folder / f"metrics/train/{name}/plots/metrics/{split}/nll.tsv"
    return pd.read_csv(logged, sep="\t").set_index("step")["nll"]


@pytest.mark.parametrize("family", TINY)
def test_two_processes_follow_the_loss_curve_of_one_with_the_same_global_batch(trained_by_two, family):
    folder = trained_by_two
    assert stage_in_process(folder, "train", f"{family}_1").returncode == 0
    one, two = curve(folder, f"{family}_1", "train"), curve(folder, f"{family}_2", "train")
    assert one.index.tolist() == two.index.tolist() == list(range(TRAINING["steps"] + 1))
    # every step's mean loss over the whole batch, split between two processes or not (logged to 6 decimals)
    assert (one - two).abs().max() <= 1e-5
    assert (
        abs(curve(folder, f"{family}_1", "val").iloc[-1] - curve(folder, f"{family}_2", "val").iloc[-1])
        <= 1e-4
    )


def test_a_killed_process_fails_the_run_in_one_line_and_the_next_run_resumes_to_the_same_model(
    trained_by_two, tmp_path
):
    run = tmp_path / "run"
    shutil.copytree(trained_by_two, run, symlinks=True, ignore=shutil.ignore_patterns("models", "metrics"))
    launcher = subprocess.Popen(
        [sys.executable, "-m", "stages.train", "gru_2"], cwd=run, stderr=subprocess.PIPE, text=True
    )
    checkpoint = run / "checkpoints/gru_2.pt"
    deadline = time.monotonic() + 300  # a bound on the wait for the event, not a timing
    while not checkpoint.exists() or torch.load(checkpoint, weights_only=True)["step"] < 5:
        assert launcher.poll() is None and time.monotonic() < deadline, launcher.communicate()
        time.sleep(0.01)
    ranks = [rank_process(launcher.pid, rank) for rank in (0, 1)]
    for pid in ranks:  # both frozen mid-run, whatever the machine's speed: then rank 1 dies
        os.kill(pid, signal.SIGSTOP)
    os.kill(ranks[1], signal.SIGKILL)
    os.kill(ranks[0], signal.SIGCONT)
    stderr = launcher.communicate(timeout=300)[1]
    assert launcher.returncode == 1
    assert stderr.splitlines() == ["error: training process 1 was killed by SIGKILL: no model written"]
    assert not (run / "data/models").exists() and not (run / "metrics").exists()
    step = torch.load(checkpoint, weights_only=True)["step"]
    resumed = train(run, "gru_2")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from step {step} (checkpoints/gru_2.pt)" in resumed.stderr
    assert (run / "data/models/gru_2.pt").read_bytes() == (
        trained_by_two / "data/models/gru_2.pt"
    ).read_bytes()
    assert not checkpoint.exists()


def rank_process(launcher: int, rank: int) -> int:
    """The pid of the training process of `rank` that the launcher `launcher` started (by its RANK variable)."""
    for child in Path(f"/proc/{launcher}/task/{launcher}/children").read_text().split():
        if f"RANK={rank}".encode() in Path(f"/proc/{child}/environ").read_bytes().split(b"\0"):
            return int(child)
    raise AssertionError(f"no process of rank {rank} under {launcher}")


def machines(folder: Path, tmp_path: Path, **params: object) -> Path:
    """A copy of the folder where gru_2 trains on two machines of one process each (and `params`)."""
    run = tmp_path / "run"
    shutil.copytree(
        folder, run, symlinks=True, ignore=shutil.ignore_patterns("models", "checkpoints", "metrics")
    )
    set_params(run, models__gru_2__nodes=2, models__gru_2__processes=1, **params)
    return run


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as server:
        return server.getsockname()[1]


def test_several_machines_need_their_rendezvous(folder, tmp_path):
    result = stage_in_process(machines(folder, tmp_path), "train", "gru_2")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: nodes = 2: set MAKEMORE_MASTER=HOST:PORT (node 0's address) and MAKEMORE_NODE_RANK=K (0 to 1) on "
        "each machine"
    ]


@pytest.mark.parametrize(
    "master, node, line",
    [
        ("garbage", "0", "MAKEMORE_MASTER=garbage: not HOST:PORT, with a PORT from 1 to 65535"),
        (
            "127.0.0.1:99999",
            "0",
            "MAKEMORE_MASTER=127.0.0.1:99999: not HOST:PORT, with a PORT from 1 to 65535",
        ),
        ("127.0.0.1:abc", "0", "MAKEMORE_MASTER=127.0.0.1:abc: not HOST:PORT, with a PORT from 1 to 65535"),
        (":29500", "0", "MAKEMORE_MASTER=:29500: not HOST:PORT, with a PORT from 1 to 65535"),
        (
            "no-such-host.invalid:29500",
            "0",
            "MAKEMORE_MASTER=no-such-host.invalid:29500: no machine no-such-host.invalid known here",
        ),
        (
            "127.0.0.1:29500",
            "abc",
            "MAKEMORE_NODE_RANK=abc: not a machine of models.gru_2.nodes = 2 (0 to 1)",
        ),
        ("127.0.0.1:29500", "2", "MAKEMORE_NODE_RANK=2: not a machine of models.gru_2.nodes = 2 (0 to 1)"),
        ("127.0.0.1:29500", "5", "MAKEMORE_NODE_RANK=5: not a machine of models.gru_2.nodes = 2 (0 to 1)"),
        ("127.0.0.1:29500", "-1", "MAKEMORE_NODE_RANK=-1: not a machine of models.gru_2.nodes = 2 (0 to 1)"),
    ],
)
def test_a_machine_with_a_bad_address_or_number_is_refused_in_one_line_before_it_waits(
    folder, tmp_path, monkeypatch, master, node, line
):
    monkeypatch.setenv("MAKEMORE_MASTER", master)
    monkeypatch.setenv("MAKEMORE_NODE_RANK", node)
    result = stage_in_process(machines(folder, tmp_path), "train", "gru_2")
    assert (result.returncode, result.stderr.splitlines()) == (1, [f"error: {line}"])


def test_node_0_refuses_a_port_in_use_before_it_waits(folder, tmp_path, monkeypatch):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        monkeypatch.setenv("MAKEMORE_MASTER", f"127.0.0.1:{port}")
        monkeypatch.setenv("MAKEMORE_NODE_RANK", "0")
        result = stage_in_process(machines(folder, tmp_path), "train", "gru_2")
    assert (result.returncode, result.stderr.splitlines()) == (
        1,
        [
            f"error: MAKEMORE_MASTER: node 0 cannot listen on port {port} (Address already in use): choose another port"
        ],
    )


@pytest.mark.parametrize("node", ["0", "1"])
def test_a_machine_alone_waits_its_bounded_time_saying_for_what_then_fails_in_one_line(
    folder, tmp_path, monkeypatch, node
):
    run, port = machines(folder, tmp_path, models__gru_2__wait=1), free_port()
    monkeypatch.setenv("MAKEMORE_MASTER", f"127.0.0.1:{port}")
    monkeypatch.setenv("MAKEMORE_NODE_RANK", node)
    result = stage_in_process(run, "train", "gru_2")
    assert (result.returncode, result.stderr.splitlines()) == (
        1,
        [
            f"waiting for 1 more machine at 127.0.0.1:{port} (up to 1 s) ...",
            f"error: models.gru_2: the 2 machines did not meet at 127.0.0.1:{port} within models.gru_2.wait = 1 s: "
            "check MAKEMORE_MASTER (node 0's HOST:PORT, the same on every machine) and MAKEMORE_NODE_RANK (0 to 1, "
            "another on each machine)",
        ],
    )
    assert not (run / "data/models/gru_2.pt").exists()
    assert not [path for path in scratch_root().iterdir() if path.name.startswith(f"{os.getpid()}-")]


def test_two_machines_of_one_process_train_the_net_of_one_machine_of_two(trained_by_two, tmp_path):
    run, port = machines(trained_by_two, tmp_path), free_port()
    environment = os.environ | {"MAKEMORE_MASTER": f"127.0.0.1:{port}", "OMP_NUM_THREADS": "1"}
    nodes = [
        subprocess.Popen(
            [sys.executable, "-m", "stages.train", "gru_2"],
            cwd=run,
            env=environment | {"MAKEMORE_NODE_RANK": str(node)},
            stderr=subprocess.PIPE,
            text=True,
        )
        for node in (1, 0)  # node 1 first: it waits for node 0
    ]
    for node in nodes:
        assert node.wait(timeout=300) == 0, node.stderr.read()
        assert node.stderr.read() == f"waiting for 1 more machine at 127.0.0.1:{port} (up to 300 s) ...\n"
    one, two = (
        torch.load(path / "data/models/gru_2.pt", weights_only=True) for path in (trained_by_two, run)
    )
    tensors = [key for key, value in one.items() if isinstance(value, torch.Tensor)]
    assert len(tensors) > 3
    for key in tensors:
        assert torch.equal(one[key], two[key]), key


@pytest.mark.parametrize("parts", [1, 2, 3, 7])
def test_the_shares_of_a_split_are_its_words_each_once(parts):
    words = default_words()[:50]
    vocab = Vocabulary.from_words(words)
    positions = Positions.of(vocab, words)
    shares = [positions.share(index, parts) for index in range(parts)]
    assert torch.equal(torch.cat([share.targets for share in shares]), positions.targets)
    assert torch.equal(torch.cat([share.offsets for share in shares]), positions.offsets)
    for index, share in enumerate(shares):  # whole words, as Positions.of makes them
        mine = words[len(words) * index // parts : len(words) * (index + 1) // parts]
        assert torch.equal(share.stream, Positions.of(vocab, mine).stream)


def test_more_processes_than_cores_are_refused_before_any_starts(folder, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(
        folder, run, symlinks=True, ignore=shutil.ignore_patterns("models", "checkpoints", "metrics")
    )
    set_params(run, models__gru_2__processes=os.cpu_count() + 1)
    result = stage_in_process(run, "train", "gru_2")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: models.gru_2.processes = {os.cpu_count() + 1}: more than this machine's {os.cpu_count()} cores "
        "(each process needs one; auto: one per GPU)"
    ]
