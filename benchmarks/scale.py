"""Scale benchmark: prepare -> train -> evaluate of the count models (the lecture's bigram and the order-6
Kneser-Ney model) on 5M and 50M words, and with a GPU the GRU on 5M words.

    python benchmarks/scale.py [--sizes 5000000 50000000]      (what `make bench-scale` runs)

The corpus is sampled from the count model of the default names (k 1, a seeded generator),
so it has their alphabet and length distribution; smaller sizes are its first lines. Each stage runs
as the pipeline runs it, a separate process, and is measured by wall time and peak resident memory
(VmHWM of that process). Prints a table; asserts nothing. With MAKEMORE_BENCH_TINY=1 (the tests' size) the
default size is TINY_SIZE words, only the count model's stages run, Python's start is timed once, and the GRU
(with a GPU) trains 20 steps.
"""

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

from makemore.artifacts import read_words
from makemore.bigram import count_bigrams
from makemore.params import read_params
from makemore.vocab import BOUNDARY, Vocabulary

ROOT = Path(__file__).resolve().parents[1]
# The tests' size: seconds, not minutes (tests/test_bench.py).
TINY = os.environ.get("MAKEMORE_BENCH_TINY") == "1"
TINY_SIZE = 1000
GRU_TRAINING = {"steps": 20, "warmup": 5, "eval_every": 10} if TINY else {}  # the GRU's params changed
MODELS = [
    "count",
    "kneser_ney",
]  # the lecture's count model, and the best count model of the ladder (order 6)
TRAINED = MODELS[:1] if TINY else MODELS  # the models whose stages run
STAGES = [["prepare"], *(["train", model] for model in TRAINED), *(["evaluate", model] for model in TRAINED)]
# with a GPU: the GRU trained on it (its default steps), and evaluated, on the smallest size
GPU_STAGES = [["train", "gru"], ["evaluate", "gru"]]
CHUNK = 500_000  # words sampled at once


def write_corpus(path: Path, num: int, seed: int = 0, max_len: int = 30) -> None:
    """`num` non-empty words drawn from the smoothed count model of the default names, one per line."""
    names = read_words(ROOT / "data/names.txt")
    vocab = Vocabulary.from_words(names)
    smoothed = count_bigrams(vocab, names).double() + 1
    probs = smoothed / smoothed.sum(1, keepdim=True)
    # the boundary becomes "\n"
    codepoints = torch.tensor([ord("\n"), *map(ord, vocab.chars)], dtype=torch.int32)
    cdf = probs.double().cumsum(1)
    generator = torch.Generator().manual_seed(seed)
    written = 0
    chunk = min(CHUNK, num)
    with path.open("w", encoding="utf-8") as f:
        while written < num:
            ix = torch.full((chunk,), BOUNDARY)
            ids = torch.zeros((chunk, max_len + 1), dtype=torch.long)  # the last column stays a boundary
            # every word of the chunk takes its next step at once; ended words stay ended
            for t in range(max_len):
                uniform = torch.rand((chunk, 1), generator=generator, dtype=torch.float64)
                # inverse CDF
                drawn = torch.searchsorted(cdf[ix], uniform).squeeze(1).clamp(max=vocab.size - 1)
                ix = drawn * (ix != BOUNDARY if t else 1)
                ids[:, t] = ix
            words = [w for w in codepoints[ids].numpy().tobytes().decode("utf-32-le").split("\n") if w]
            words = words[: num - written]
            f.write("".join(f"{w}\n" for w in words))
            written += len(words)


# Run in each stage's own process: VmHWM is the peak RSS of this program alone. The kernel's maxrss
# would also count the memory of the benchmark process it was forked from.
PEAK_RSS = (
    "import atexit, runpy, sys\n"
    "def report():\n"
    "    status = open('/proc/self/status').read()\n"
    "    print('peak_rss_kb', status.split('VmHWM:')[1].split()[0], file=sys.stderr)\n"
    "atexit.register(report)\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


def run_stage(args: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS in MB of one stage process."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(ROOT / "stages" / f"{args[0]}.py"), *args[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed with exit code {result.returncode}:\n{result.stderr}")
    peak_kb = int(result.stderr.split("peak_rss_kb ")[1].split()[0])
    return seconds, peak_kb / 1024


def startup_seconds(cwd: Path) -> float:
    """What every stage pays before its own work: Python starting and importing torch and makemore."""

    def once() -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import makemore.models"], cwd=cwd, check=True)
        return time.perf_counter() - start

    return min(once() for _ in range(1 if TINY else 3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[TINY_SIZE] if TINY else [5_000_000, 50_000_000]
    )
    sizes = parser.parse_args().sizes
    gpu = torch.cuda.is_available()
    params_gru = read_params(ROOT / "params.yaml")["models"]["gru"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        write_corpus(tmp / "corpus.txt", max(sizes))
        print(
            f"Sampled a corpus of {max(sizes):,} words in {time.perf_counter() - start:.1f} s; "
            f"{os.cpu_count()} cores.\n",
            flush=True,
        )
        results = {}
        for size in sizes:
            workdir = tmp / f"run_{size}"
            (workdir / "data").mkdir(parents=True)
            with (tmp / "corpus.txt").open("rb") as corpus, (workdir / "data/words.txt").open("wb") as words:
                words.writelines(itertools.islice(corpus, size))  # its first lines
            params = read_params(ROOT / "params.yaml")
            params["data"]["path"] = "data/words.txt"
            params["models"] = {name: params["models"][name] for name in MODELS}
            params["models"]["gru"] = params_gru | GRU_TRAINING | {"device": "auto", "processes": "auto"}
            (workdir / "params.yaml").write_text(yaml.safe_dump(params))
            (workdir / "stages").symlink_to(
                ROOT / "stages"
            )  # a stage of several processes starts `-m stages.train`
            stages = STAGES + (GPU_STAGES if gpu and size == min(sizes) else [])
            results[size] = [run_stage(stage, workdir) for stage in stages]
        startup = startup_seconds(tmp)
    print("| stage | " + " | ".join(f"{size:,} words" for size in sizes) + " |")
    print("| --- |" + " --- |" * len(sizes))
    for i, stage in enumerate(STAGES + (GPU_STAGES if gpu else [])):
        cells = [
            f"{results[s][i][0]:.1f} s, {results[s][i][1]:,.0f} MB" if i < len(results[s]) else ""
            for s in sizes
        ]
        name = " ".join(stage) + (" (GPU)" if stage in GPU_STAGES else "")
        print(f"| {name} | " + " | ".join(cells) + " |")
    totals = {s: sum(t for t, _ in results[s][: len(STAGES)]) for s in sizes}
    peaks = {s: max(m for _, m in results[s][: len(STAGES)]) for s in sizes}
    print(
        "| **end to end** | "
        + " | ".join(f"**{totals[s]:.1f} s**, peak {peaks[s]:,.0f} MB" for s in sizes)
        + " |"
    )
    print(f"\nEvery stage first spends {startup:.2f} s starting Python and importing torch and makemore.")
    for small, large in zip(sizes, sizes[1:]):
        ratio = (totals[large] / large) / (totals[small] / small)
        print(
            f"Time per word at {large:,} words: {ratio:.2f}x that at {small:,} (linear: 1; target: at most 1.2)."
        )
    print("Targets: 5M words end to end < 60 s; 50M words peak RSS <= 4,096 MB.")


if __name__ == "__main__":
    main()
