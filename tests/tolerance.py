"""How far results made on another machine may be from the committed ones, and how far they are.

Byte identity holds on one machine with one thread count. Another CPU (another vector path: AVX-512, AVX2,
none) or another thread count sums floating-point numbers in another order: a trained weight moves in its
last bits, an NLL in its 6th decimal. Samples are discrete draws, so such a change may, rarely, change a
drawn character and so a word. What the committed results promise elsewhere:

- every NLL, curve point and fitted figure within NLL_TOLERANCE (absolute), a perplexity exp(NLL) within
  as much relative to it, and its last written decimal;
- counts (tokens, n-grams, steps, parameters) and the data files exactly;
- a sample statistic within two standard errors of the committed one over `sample.num` words: what drawing
  another sample would move it by anyway.
"""

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

NLL_TOLERANCE = 1e-4  # nats: 100 times the largest difference measured between CPU paths and thread counts
PERPLEXITY_DECIMAL = 1e-4  # a perplexity's last written decimal, which an NLL's 1e-6 can turn over


@dataclass
class Difference:
    file: str
    key: str
    committed: object
    reproduced: object
    tolerance: float

    @property
    def size(self) -> float:
        if isinstance(self.committed, int | float) and isinstance(self.reproduced, int | float):
            return abs(self.committed - self.reproduced)
        return 0.0 if self.committed == self.reproduced else math.inf

    @property
    def allowed(self) -> bool:
        return self.size <= self.tolerance

    def __str__(self) -> str:
        return f"{self.file}: {self.key} = {self.reproduced!r}, committed {self.committed!r} (difference {self.size:.3g}, tolerance {self.tolerance:.3g})"


def values(path: Path) -> dict[str, object]:
    """The values of a metrics file by key: JSON leaves as `a.b`, a table's cells as `COLUMN at FIRST_COLUMN`."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return dict(flatten(json.loads(text)))
    rows = list(csv.reader(io.StringIO(text), delimiter="\t" if path.suffix == ".tsv" else ","))
    header, *rows = rows
    table = {
        f"{column} at {row[0]}": number(cell) for row in rows for column, cell in zip(header[1:], row[1:])
    }
    # a length no sampled word has is a share of 0, whether or not it has a row
    if path.parts[-2] == "sample":
        return table
    return {"rows": len(rows), **table}


def flatten(value: object, prefix: str = ""):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from flatten(inner, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from flatten(inner, f"{prefix}[{i}]")
    else:
        yield prefix, value


def number(cell: str) -> int | float:
    return int(cell) if cell.lstrip("-").isdigit() else float(cell)


def tolerances(path: Path, committed: dict[str, object], num_samples: int) -> dict[str, float]:
    """Each key's tolerance: exact for integers, NLL_TOLERANCE for other numbers, sampling noise for samples."""
    tolerance = {key: 0.0 if isinstance(value, int) else NLL_TOLERANCE for key, value in committed.items()}
    for key, value in committed.items():
        if key.endswith("perplexity") and isinstance(value, float):  # exp(NLL), written to 4 decimals
            tolerance[key] = value * NLL_TOLERANCE + PERPLEXITY_DECIMAL
        if key == "model_sha256":  # of a net's weights, whose last bits differ
            tolerance[key] = math.inf
    if path.parts[-2] == "sample" and path.suffix == ".json":
        for key in ("in_train", "in_val_or_test", "new"):
            tolerance[key] = share_tolerance(committed[key], num_samples)
        lengths = values(path.with_name(f"{path.stem}_lengths.csv"))
        shares = {
            int(key.split()[-1]): share for key, share in lengths.items() if key.startswith("sampled at")
        }
        variance = sum(share * (length - committed["mean_length"]) ** 2 for length, share in shares.items())
        tolerance["mean_length"] = 2 * math.sqrt(variance / num_samples)
    elif path.parts[-2] == "sample":
        for key, share in committed.items():
            if key.startswith("sampled at"):
                tolerance[key] = share_tolerance(share, num_samples)
    return tolerance


def share_tolerance(share: float, num: int) -> float:
    """Two standard errors of a share measured on `num` draws (one draw's worth at a share of 0)."""
    return 2 * math.sqrt((share * (1 - share) + 1 / num) / num)


def differences(committed: Path, reproduced: Path, files: list[Path], num_samples: int) -> list[Difference]:
    """Every value of `files` (relative paths) in `reproduced` against `committed`, with its tolerance."""
    found = []
    for file in files:
        before, after = values(committed / file), values(reproduced / file)
        allowed = tolerances(committed / file, before, num_samples)
        sample = file.parts[-2] == "sample"
        missing, unlisted = (0.0, share_tolerance(0.0, num_samples)) if sample else (None, 0.0)
        for key in sorted(before.keys() | after.keys()):
            found.append(
                Difference(
                    str(file),
                    key,
                    before.get(key, missing),
                    after.get(key, missing),
                    allowed.get(key, unlisted),
                )
            )
    return found
