"""The schema of params.yaml: every key, its type and its allowed range, checked before any stage runs.

A misspelt or unknown key is an error, not a silently ignored setting.
"""

import difflib
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, model_validator

from makemore import MakemoreError

PARAMS_FILE = "params.yaml"
MAX_SEED = 2**64 - 1  # torch.Generator.manual_seed takes 64 bits
MAX_LENGTH = 1000  # the longest word kept or sampled: bounds the rows of the committed length CSVs

Seed = Annotated[StrictInt, Field(ge=0, le=MAX_SEED)]
Length = Annotated[StrictInt, Field(ge=1, le=MAX_LENGTH)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Data(Section):
    path: str = Field(min_length=1)
    max_len: Length


class Split(Section):
    train: float = Field(gt=0, lt=1)
    val: float = Field(gt=0, lt=1)
    test: float = Field(gt=0, lt=1)
    seed: Seed

    @model_validator(mode="after")
    def fractions_sum_to_one(self) -> "Split":
        total = self.train + self.val + self.test
        if abs(total - 1) > 1e-9:
            raise ValueError(f"split.train + split.val + split.test = {total:g}, must be 1")
        return self

    @property
    def fractions(self) -> dict[str, float]:
        return {"train": self.train, "val": self.val, "test": self.test}


class Count(Section):
    smoothing: float = Field(ge=0)


class Train(Section):
    lr: float = Field(gt=0)
    steps: StrictInt = Field(ge=1)
    reg: float = Field(ge=0)
    seed: Seed


class Sample(Section):
    num: StrictInt = Field(ge=1, le=1_000_000)
    seed: Seed
    max_len: Length
    temperature: float = Field(gt=0)
    top_k: StrictInt | None = Field(ge=1)


class Params(Section):
    data: Data
    split: Split
    count: Count
    train: Train
    sample: Sample


def load_params(path: str | Path = PARAMS_FILE) -> Params:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MakemoreError(f"{path}: no such file") from None
    except yaml.YAMLError as e:
        where = f":{e.problem_mark.line + 1}" if getattr(e, "problem_mark", None) else ""
        raise MakemoreError(f"{path}{where}: not valid YAML ({getattr(e, 'problem', e)})") from None
    try:
        return Params.model_validate(raw)
    except ValidationError as e:
        # A misspelt key also makes the right one missing: name the misspelling first.
        first = min(e.errors(), key=lambda error: error["type"] != "extra_forbidden")
        raise MakemoreError(f"{path}: {_describe(first)}") from None


def _describe(error: dict) -> str:
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        section = Params
        for part in error["loc"][:-1]:
            section = section.model_fields[part].annotation
        known = list(section.model_fields)
        close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
        return f"unknown key {key!r} ({hint})"
    if error["type"] == "missing":
        return f"missing key {key!r}"
    if error["type"] == "model_type":
        return f"{key or 'the file'} must be a mapping of keys to values, not {error['input']!r}"
    if error["type"] == "value_error":  # a check across keys: its message names them
        return str(error["ctx"]["error"])
    return f"{key} = {error['input']!r} is invalid: {error['msg'].lower()}"
