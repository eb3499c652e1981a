"""Scale benchmark: prepare -> train -> evaluate of the lecture's two models and the order-6 Kneser-Ney model, on 0.1M, 1M and 5M words.

    python benchmarks/scale.py [--sizes 100000 1000000 5000000]      (what `make bench-scale` runs)

The corpus is sampled from the count model of the default names (k 1, a seeded generator),
so it has their alphabet and length distribution; smaller sizes are its first lines. Each stage runs
as the pipeline runs it, a separate process, and is measured by wall time and peak resident memory
(VmHWM of that process). Prints a table; asserts nothing.
"""

import argparse
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
from makemore.vocab import BOUNDARY, Vocabulary

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["count", "nn", "kneser_ney"]  # the lecture's two, and the best count model of the ladder (order 6)
STAGES = [["prepare"], *(["train", model] for model in MODELS), *(["evaluate", model] for model in MODELS)]
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
    with path.open("w", encoding="utf-8") as f:
        while written < num:
            ix = torch.full((CHUNK,), BOUNDARY)
            ids = torch.zeros((CHUNK, max_len + 1), dtype=torch.long)  # the last column stays a boundary
            # every word of the chunk takes its next step at once; ended words stay ended
            for t in range(max_len):
                uniform = torch.rand((CHUNK, 1), generator=generator, dtype=torch.float64)
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

    return min(once() for _ in range(3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 5_000_000])
    sizes = parser.parse_args().sizes
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        write_corpus(tmp / "corpus.txt", max(sizes))
        lines = (tmp / "corpus.txt").read_text(encoding="utf-8").splitlines(keepends=True)
        print(
            f"Sampled a corpus of {len(lines):,} words in {time.perf_counter() - start:.1f} s; "
            f"{os.cpu_count()} cores.\n",
            flush=True,
        )
        results = {}
        for size in sizes:
            workdir = tmp / f"run_{size}"
            (workdir / "data").mkdir(parents=True)
            (workdir / "data/words.txt").write_text("".join(lines[:size]), encoding="utf-8")
            params = yaml.safe_load((ROOT / "params.yaml").read_text())
            params["data"]["path"] = "data/words.txt"
            params["models"] = {name: params["models"][name] for name in MODELS}
            (workdir / "params.yaml").write_text(yaml.safe_dump(params))
            results[size] = [run_stage(stage, workdir) for stage in STAGES]
        startup = startup_seconds(tmp)
    print("| stage | " + " | ".join(f"{size:,} words" for size in sizes) + " |")
    print("| --- |" + " --- |" * len(sizes))
    for i, stage in enumerate(STAGES):
        print(
            f"| {' '.join(stage)} | "
            + " | ".join(f"{results[s][i][0]:.1f} s, {results[s][i][1]:,.0f} MB" for s in sizes)
            + " |"
        )
    totals = {s: sum(t for t, _ in results[s]) for s in sizes}
    peaks = {s: max(m for _, m in results[s]) for s in sizes}
    print(
        "| **end to end** | "
        + " | ".join(f"**{totals[s]:.1f} s**, peak {peaks[s]:,.0f} MB" for s in sizes)
        + " |"
    )
    print(f"\nEvery stage first spends {startup:.2f} s starting Python and importing torch and makemore.")
    for small, large in zip(sizes, sizes[1:]):
        per_million = (totals[large] - totals[small]) / (large - small) * 1e6
        print(f"From {small:,} to {large:,} words: {per_million:.2f} s more per million words.")
    print("Targets for 5M words: < 60 s end to end, peak RSS < 2,048 MB.")


if __name__ == "__main__":
    main()
