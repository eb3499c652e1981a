"""Benchmark on the default data: the pipeline's code against the lecture's, the n-gram models' speed, and DVC's overhead.

    python benchmarks/bench.py      (what `make bench` runs; prints a table, asserts nothing)

Every figure is measured in this one run, and each ratio is against a baseline measured here too. With
MAKEMORE_BENCH_TINY=1 (the tests' size) it takes the first TINY_WORDS words, times everything once, and
reproduces only the `prepare` stage.
"""

import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml
from ruamel.yaml import YAML

from makemore.artifacts import read_words
from makemore.bigram import count_bigrams
from makemore.evaluate import score
from makemore.models.contexts import Positions
from makemore.models.interface import FitData
from makemore.models.ngram import NGram, NGramConfig
from makemore.models.onelayer import data_loss, maximum_likelihood_nll
from makemore.params import load_params, read_params
from makemore.splits import split_words
from makemore.vocab import SPLITS, Vocabulary

ROOT = Path(__file__).resolve().parents[1]
# The tests' size: seconds, not minutes (tests/test_bench.py).
TINY = os.environ.get("MAKEMORE_BENCH_TINY") == "1"
TINY_WORDS = 300
TARGET_GAP = 0.01  # nats above the maximum-likelihood NLL
LECTURE_CAP_SECONDS = 0.1 if TINY else 30.0
PIPELINE_CAP_SECONDS = 0.1 if TINY else 60.0
DVC_TARGETS = ["prepare"] if TINY else []  # the stages `dvc repro` runs: all of them but in tiny mode
# what the lecture's experiment reruns: the count model's branch and compare (in tiny mode only its first stage)
EXPERIMENT_TARGETS = ["train@count"] if TINY else []
EXPERIMENT_STAGES = (
    [["train", "count"]]
    if TINY
    else [["train", "count"], ["evaluate", "count"], ["compare"], ["sample", "count"]]
)
LECTURE_KS = [0.5, 2.0, 3.0]  # the smoothings of the lecture's experiment, each new to DVC's run cache


def best_time(fn, repeats: int) -> float:
    """The fastest of `repeats` runs, in seconds: the least disturbed by the rest of the machine."""
    times = []
    for _ in range(1 if TINY else repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def lecture_counts(words: list[str], stoi: dict[str, int], size: int) -> torch.Tensor:
    N = torch.zeros((size, size), dtype=torch.int32)
    for w in words:
        chs = ["."] + list(w) + ["."]
        for ch1, ch2 in zip(chs, chs[1:]):
            N[stoi[ch1], stoi[ch2]] += 1
    return N


def lecture_step(W: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, lr: float, reg: float) -> float:
    """One step as the lecture writes it: one-hot of every example @ W, softmax, NLL, backward, update."""
    xenc = F.one_hot(xs, num_classes=W.shape[0]).float()
    logits = xenc @ W
    counts = logits.exp()
    probs = counts / counts.sum(1, keepdims=True)
    loss = -probs[torch.arange(len(xs)), ys].log().mean() + reg * (W**2).mean()
    W.grad = None
    loss.backward()
    W.data += -lr * W.grad
    return loss.item()


def pipeline_step(W: torch.Tensor, counts: torch.Tensor, lr: float, reg: float) -> float:
    loss = data_loss(W, counts) + reg * (W**2).mean()
    W.grad = None
    loss.backward()
    with torch.no_grad():
        W -= lr * W.grad
    return loss.item()


def steps_to_target(
    step, W: torch.Tensor, train_nll, optimum: float, cap_seconds: float
) -> tuple[int, float, float]:
    """Steps and seconds of training until the train NLL is within TARGET_GAP of `optimum`, or the cap."""
    start, steps = time.perf_counter(), 0
    while (gap := train_nll(W) - optimum) >= TARGET_GAP and time.perf_counter() - start < cap_seconds:
        step(W)
        steps += 1
    return steps, time.perf_counter() - start, gap


def ngram_seconds(config: NGramConfig, vocab: Vocabulary, positions: dict[str, Positions]) -> float:
    """Fitting one n-gram model on train (its val NLL watched) and evaluating it on every split, as its stages do."""
    start = time.perf_counter()
    model = NGram.fit(config, FitData(vocab, positions["train"], positions["val"], max_len=50)).model
    for split in SPLITS:
        score(model, positions[split])
    return time.perf_counter() - start


def notebook_experiment(words: list[str], val: list[str], stoi: dict[str, int], size: int, k: float) -> float:
    """The lecture's experiment as its notebook does it in one process: count, smooth by k, normalise, mean NLL."""
    P = lecture_counts(words, stoi, size).float() + k
    P /= P.sum(1, keepdims=True)
    log_likelihood, n = 0.0, 0
    for w in val:
        chs = ["."] + list(w) + ["."]
        for ch1, ch2 in zip(chs, chs[1:]):
            log_likelihood += torch.log(P[stoi[ch1], stoi[ch2]]).item()
            n += 1
    return -log_likelihood / n


def pipeline_experiment(project: Path, k: float) -> float:
    """The same experiment in the pipeline: models.count.k edited in params.yaml, then `dvc repro` (the branch of
    the count model reruns: train, evaluate, sample); the seconds it takes."""
    params = read_params(project / "params.yaml")
    params["models"]["count"]["k"] = k
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return timed(["dvc", "repro", *EXPERIMENT_TARGETS], project)


def lock_rewrite(project: Path) -> float:
    """What DVC does to dvc.lock after each stage it runs: a round-trip parse of the whole file with ruamel.yaml, then
    a dump of it (DVC's own parse and dump are ruamel's round-trip ones, to keep the file's layout)."""
    text = (project / "dvc.lock").read_text()

    def rewrite() -> None:
        lock = YAML()
        lock.dump(lock.load(text), io.StringIO())

    return best_time(rewrite, repeats=3)


def timed(cmd: list[str], cwd: Path, repeats: int = 1) -> float:
    return best_time(lambda: subprocess.run(cmd, cwd=cwd, check=True, capture_output=True), repeats)


def row(what: str, lecture: str, pipeline: str, ratio: str, target: str) -> None:
    print(f"| {what} | {lecture} | {pipeline} | {ratio} | {target} |", flush=True)


def main() -> None:
    torch.set_num_threads(os.cpu_count() or 1)
    params = load_params(ROOT / "params.yaml")
    words = read_words(ROOT / params.data.path, params.data.max_len)[: TINY_WORDS if TINY else None]
    vocab = Vocabulary.from_words(words)
    stoi = {c: i for i, c in enumerate(vocab.labels)}
    ids = vocab.encode(words)
    xs, ys = ids[:-1], ids[1:]
    counts = count_bigrams(vocab, words)
    optimum = maximum_likelihood_nll(counts)
    nn = params.models["nn"]
    lr, reg = nn["lr"], nn["reg"]

    print(
        f"Default data: {len(words):,} words, {len(xs):,} bigrams, V = {vocab.size}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} cores\n"
    )
    print("| what | lecture's way | pipeline | pipeline is | target |")
    print("| --- | --- | --- | --- | --- |")

    start = time.perf_counter()
    lecture_result = lecture_counts(words, stoi, vocab.size)  # about 2 s: run once, and keep what it counted
    lecture = time.perf_counter() - start
    assert torch.equal(lecture_result.long(), counts)  # the same counts, or the race is void
    pipeline = best_time(lambda: count_bigrams(vocab, words), repeats=5)
    row(
        "count all bigrams (encoding included)",
        f"{lecture:.2f} s",
        f"{pipeline * 1e3:.1f} ms",
        f"{lecture / pipeline:,.0f}x faster",
        ">= 100x",
    )

    W0 = torch.randn((vocab.size, vocab.size), generator=torch.Generator().manual_seed(nn["seed"]))
    W = W0.clone().requires_grad_()
    lecture = best_time(lambda: lecture_step(W, xs, ys, lr, reg), repeats=5)
    W = W0.clone().requires_grad_()
    pipeline = best_time(lambda: pipeline_step(W, counts.float(), lr, reg), repeats=50)
    row(
        "one training step (loss, backward, update)",
        f"{lecture * 1e3:.1f} ms",
        f"{pipeline * 1e3:.3f} ms",
        f"{lecture / pipeline:,.0f}x faster",
        ">= 100x",
    )

    counts_f = counts.float()
    W = W0.clone().requires_grad_()
    steps, pipeline, gap = steps_to_target(
        lambda W: pipeline_step(W, counts_f, lr, reg),
        W,
        lambda W: data_loss(W, counts_f).item(),
        optimum,
        PIPELINE_CAP_SECONDS,
    )
    W = W0.clone().requires_grad_()
    lecture_nll = lambda W: F.cross_entropy(W.detach()[xs], ys).item()  # noqa: E731
    lecture_steps, lecture, lecture_gap = steps_to_target(
        lambda W: lecture_step(W, xs, ys, lr, reg), W, lecture_nll, optimum, LECTURE_CAP_SECONDS
    )
    reached = (
        f"{lecture:.1f} s ({lecture_steps} steps)"
        if lecture_gap < TARGET_GAP
        else f"not in {LECTURE_CAP_SECONDS:g} s: {lecture_gap:.4f} nats above after {lecture_steps} steps"
    )
    ratio = (
        f"{lecture / pipeline:,.0f}x faster"
        if lecture_gap < TARGET_GAP
        else f"> {lecture / pipeline:,.0f}x faster"
    )
    row(
        f"train to within {TARGET_GAP} nats of the optimum {optimum:.5f} (lr {lr:g}, reg {reg:g})",
        reached,
        f"{pipeline:.3f} s ({steps} steps, {gap:.5f} above)",
        ratio,
        "< 1 s",
    )

    splits = split_words(words, params.split.fractions, params.split.seed)
    positions = {split: Positions.of(vocab, split_words_) for split, split_words_ in splits.items()}
    for smoothing, extra in (("additive", {"k": 0.1}), ("kneser_ney", {})):
        seconds = {
            order: best_time(
                lambda order=order, smoothing=smoothing, extra=extra: ngram_seconds(
                    NGramConfig(family="ngram", order=order, smoothing=smoothing, **extra), vocab, positions
                ),
                repeats=3,
            )
            for order in range(1, 7)
        }
        slowest = max(seconds, key=seconds.get)
        row(
            f"fit an n-gram model ({smoothing}) and evaluate it on every split, orders 1 to 6",
            "",
            ", ".join(f"{seconds[order]:.2f} s" for order in seconds),
            f"slowest: order {slowest}, {seconds[slowest]:.2f} s",
            "< 1 s",
        )

    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(project)], check=True)
        for outputs in ("metrics", "dvc.lock"):  # from scratch: nothing the committed run left
            path = project / outputs
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        scratch = timed(["dvc", "repro", *DVC_TARGETS], project)
        stages = len(
            subprocess.run(
                ["dvc", "stage", "list", "--name-only", *DVC_TARGETS],
                cwd=project,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
        )
        noop = timed(["dvc", "repro", *DVC_TARGETS], project, repeats=3)
        python = timed([sys.executable, "-c", "pass"], project, repeats=3)
        torch_import = timed([sys.executable, "-c", "import torch"], project, repeats=3) - python
        dvc_import = timed([sys.executable, "-c", "import dvc.cli, dvc.repo"], project, repeats=3) - python
        experiment = min(pipeline_experiment(project, k) for k in LECTURE_KS[: 1 if TINY else None])
        # each stage the experiment reruns, run by itself as DVC runs it; DVC's rewrite of dvc.lock after each
        commands = {
            " ".join(stage): ["python", "-m", f"stages.{stage[0]}", *stage[1:]] for stage in EXPERIMENT_STAGES
        }
        stage_seconds = {stage: timed(command, project, repeats=3) for stage, command in commands.items()}
        rewrite = lock_rewrite(project)
        lock_kb = (project / "dvc.lock").stat().st_size / 1024
    row(
        f"`dvc repro` from scratch ({stages} stages)",
        "",
        f"{scratch:.1f} s",
        f"{stages} x (python + import torch) = {stages * (python + torch_import):.1f} s, {stages * (python + torch_import) / scratch:.0%} of it",
        "<= 240 s",
    )
    row(
        "no-op `dvc repro`",
        "",
        f"{noop:.2f} s",
        f"python + import dvc = {python + dvc_import:.2f} s, {(python + dvc_import) / noop:.0%} of it",
        "<= 1 s",
    )
    notebook = min(
        best_time(lambda k=k: notebook_experiment(splits["train"], splits["val"], stoi, vocab.size, k), 1)
        for k in LECTURE_KS[: 1 if TINY else None]
    )
    row(
        "the lecture's experiment: a new `models.count.k`, then `dvc repro` (the notebook: count, smooth, "
        "normalise, mean val NLL in one process)",
        f"{notebook:.2f} s",
        f"{experiment:.2f} s",
        f"{experiment / notebook:.1f}x the notebook's time",
        "<= 3 s",
    )
    for stage, seconds in stage_seconds.items():
        row(
            f"of which `python -m stages.{stage}`, its start included",
            "",
            f"{seconds:.2f} s",
            f"{seconds / experiment:.0%} of it",
            "",
        )
    row(
        f"of which DVC's rewrite of dvc.lock ({lock_kb:.0f} KB) after each of the {len(stage_seconds)} stages",
        "",
        f"{len(stage_seconds)} x {rewrite:.2f} s",
        f"{len(stage_seconds) * rewrite / experiment:.0%} of it",
        "",
    )
    rest = experiment - sum(stage_seconds.values()) - len(stage_seconds) * rewrite
    row(
        "of which the rest of DVC (its start, reading the files, hashing, locks)",
        "",
        f"{rest:.2f} s",
        f"{rest / experiment:.0%} of it",
        "",
    )


if __name__ == "__main__":
    main()
