"""The schema of params.yaml: every key, its type and its allowed range, checked before any stage runs.

A misspelt or unknown key is an error, not a silently ignored setting.
"""

import argparse
import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from ruamel.yaml import YAML, YAMLError

from makemore import MakemoreError

PARAMS_FILE = "params.yaml"
MAX_SEED = 2**64 - 1  # torch.Generator.manual_seed takes 64 bits
MAX_LENGTH = 1000  # the longest word kept or sampled: bounds the rows of the committed length CSVs

Seed = Annotated[StrictInt, Field(ge=0, le=MAX_SEED)]
Length = Annotated[StrictInt, Field(ge=1, le=MAX_LENGTH)]
# a file name and a dvc stage name
PLAIN_NAME = r"^[A-Za-z0-9_-]+$"
InstanceName = Annotated[str, StringConstraints(pattern=PLAIN_NAME)]


class Section(BaseModel):
    # strict: a value of the wrong type is refused, not converted (`lr: true` is no 1.0, `layernorm: 'off'` no False)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


class Data(Section):
    path: str = Field(min_length=1)
    max_len: Length
    # a repeated line: kept once, or every copy (all in one split)
    duplicates: Literal["drop", "keep"] = "drop"
    # Unicode's normal form of every word read and scored: nfc (a letter written two ways is one) or none (as is)
    normalize: Literal["nfc", "none"] = "nfc"


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


class Sample(Section):
    """How words are drawn from a model: the one schema of params.yaml's `sample:` (the pipeline's samples) and of
    the settings of `makemore sample`, `Trained.samples` and the page, whose defaults are these."""

    num: StrictInt = Field(10, ge=1, le=1_000_000, description="how many words")
    seed: Seed = Field(2147483647, description="torch.Generator seed, 0 to 2**64 - 1")
    max_len: Length = Field(50, description=f"cut words off at this length, at most {MAX_LENGTH}")
    temperature: float = Field(
        1.0,
        gt=0,
        description="< 1 sharpens, > 1 flattens the model's distributions; near 0 always takes the most likely "
        "next character",
    )
    top_k: StrictInt | None = Field(
        None,
        ge=1,
        description="draw only from the k most likely next characters, and any tied with the k-th (default: all)",
    )


LENGTH_RANGE = r"^[0-9]*:[0-9]*$"
LengthRange = Annotated[str, StringConstraints(pattern=LENGTH_RANGE)]


class Constraints(Section):
    """What every word drawn or listed must be: the one schema of the constraints of `makemore sample` and
    `makemore top`, `Trained.samples` and `Trained.top`, and the page. Each is exact: a sample is drawn from the
    model's distribution given them, and the top words are the most probable of those that meet them."""

    prefix: str = Field("", max_length=MAX_LENGTH, description="start with these characters")
    suffix: str = Field("", max_length=MAX_LENGTH, description="end with these characters")
    contains: str = Field("", max_length=MAX_LENGTH, description="have these characters in a row")
    length: LengthRange | None = Field(
        None, description="MIN:MAX characters, either one may be left out (5:7, 5:, :7)"
    )
    novel: bool = Field(False, description="not a line of the data file (data.path in params.yaml)")
    exclude: str | None = Field(None, description="a file: not one of its lines either")

    @model_validator(mode="after")
    def some_word_can_meet_them(self) -> "Constraints":
        if self.longest is not None and self.shortest > self.longest:
            raise ValueError(f"length = {self.length!r}: its MIN is more than its MAX")
        for name, given in (("prefix", self.prefix), ("suffix", self.suffix), ("contains", self.contains)):
            if self.longest is not None and len(given) > self.longest:
                raise ValueError(
                    f"{name} = {given!r} has {len(given)} characters: no word of at most {self.longest} has it"
                )
        return self

    @property
    def shortest(self) -> int:
        low = (self.length or ":").partition(":")[0]
        return max(int(low or 1), 1)

    @property
    def longest(self) -> int | None:
        high = (self.length or ":").partition(":")[2]
        return int(high) if high else None

    @property
    def any(self) -> bool:
        """Whether any constraint is set."""
        return self != Constraints()

    def admits(self, word: str) -> bool:
        """Whether the word meets the constraints on its characters (novel and exclude are the caller's: files)."""
        return (
            word.startswith(self.prefix)
            and word.endswith(self.suffix)
            and self.contains in word
            and self.shortest <= len(word) <= (self.longest or len(word))
        )


class Compare(Section):
    """How every model is compared with the best on val (makemore/compare.py): a paired bootstrap over the words."""

    resamples: StrictInt = Field(1000, ge=10, le=100_000)  # draws of the val words
    seed: Seed = 0  # of the draws
    confidence: float = Field(0.95, gt=0, lt=1)  # of each interval of a difference


class Params(Section):
    data: Data
    split: Split
    # each checked by its family (makemore.models)
    models: dict[InstanceName, dict[str, Any]] = Field(min_length=1)
    # mixtures of the models, each checked by makemore/models/mixture.py; `mixtures: {}` for none (the section is
    # a param of dvc.yaml's compare stage, as `compare` is: DVC refuses to run it without them)
    mixtures: dict[InstanceName, dict[str, Any]]
    sample: Sample
    compare: Compare

    @model_validator(mode="after")
    def names_once(self) -> "Params":
        for name in self.mixtures:
            if name in self.models:
                raise ValueError(
                    f"mixtures.{name}: a model under `models:` has this name too; give one another"
                )
        return self

    @property
    def instances(self) -> dict[str, dict[str, Any]]:
        """Every instance's params by name: the models, then the mixtures (their family: mixture)."""
        return self.models | {name: {"family": "mixture", **given} for name, given in self.mixtures.items()}


def parse_yaml(text: str) -> Any:
    """YAML read as DVC reads params.yaml (YAML 1.2, ruamel.yaml's safe loader): a value DVC writes there, such as
    `1e-06` for `dvc exp run -S KEY=0.000001`, is the number it wrote, not the string YAML 1.1 makes of it."""
    return YAML(typ="safe").load(text)


def read_params(path: str | Path = PARAMS_FILE) -> dict:
    try:
        return parse_yaml(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MakemoreError(f"{path}: no such file") from None
    except YAMLError as e:
        where = f":{e.problem_mark.line + 1}" if getattr(e, "problem_mark", None) else ""
        raise MakemoreError(f"{path}{where}: not valid YAML ({getattr(e, 'problem', e)})") from None


def load_params(path: str | Path = PARAMS_FILE) -> Params:
    """Every section checked, but each model's own keys: its family checks them (makemore.models.instance_config)."""
    return validated(Params, read_params(path), path)


def validated(schema: type[BaseModel], raw: object, path: str | Path, loc: tuple[str, ...] = ()) -> BaseModel:
    """`raw` as `schema`, found at `loc` in the file `path`; a MakemoreError naming the key and its value if it is not."""
    try:
        return schema.model_validate(raw)
    except ValidationError as e:
        # A misspelt key also makes the right one missing: name the misspelling first.
        first = min(e.errors(), key=lambda error: error["type"] != "extra_forbidden")
        raise MakemoreError(f"{path}: {describe(first, schema, loc, raw)}") from None


# The sections that dvc.yaml's compare stage reads, which may be empty but must be there
EMPTY_SECTIONS = {
    "mixtures": " (`mixtures: {}` for none, and no mix_NAME stage in dvc.yaml)",
    "compare": " (`compare: {}` for its defaults)",
}


def describe(error: dict, schema: type[BaseModel], loc: tuple[str, ...], raw: object = None) -> str:
    key = ".".join(str(part) for part in (*loc, *error["loc"]))
    if error["type"] == "extra_forbidden":
        section = schema
        for part in error["loc"][:-1]:
            section = section.model_fields[part].annotation
        known = [name for name in section.model_fields if name != "family"]
        close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
        return f"unknown key {key!r} ({hint})"
    if error["type"] == "missing":
        return f"missing key {key!r}" + EMPTY_SECTIONS.get(key, "")
    if error["type"] in ("model_type", "dict_type"):
        return f"{key or 'the file'} must be a mapping of keys to values, not {error['input']!r}"
    if error["type"] == "string_pattern_mismatch" and error["ctx"]["pattern"] == PLAIN_NAME:
        return f"models: the name {error['input']!r} is not a plain name (letters, digits, _ and - only)"
    if error["type"] == "string_pattern_mismatch" and error["ctx"]["pattern"] == LENGTH_RANGE:
        return (
            f"{key} = {error['input']!r} is invalid: give MIN:MAX, either one may be left out (5:7, 5:, :7)"
        )
    if error["type"] == "value_error":  # a check across keys: its message names them
        return f"{key}: {error['ctx']['error']}" if loc else str(error["ctx"]["error"])
    key = ".".join(str(part) for part in (*loc, *in_file(raw, error["loc"])))
    return f"{key} = {error['input']!r} is invalid: {error['msg'].lower()}"


def in_file(raw: object, parts: tuple) -> list:
    """The parts of an error's location that are keys or indexes of the file's values: without the names pydantic
    gives the members of a union (`processes.constrained-int` is `processes`)."""
    kept = []
    for part in parts:
        if isinstance(raw, dict) and part in raw or isinstance(raw, list) and isinstance(part, int):
            raw = raw[part] if isinstance(raw, dict) or part < len(raw) else None
            kept.append(part)
    return kept


# Command-line values, checked as argparse types: the CLI's and tune's
def field_option(schema: type[BaseModel], name: str) -> Callable[[str], object]:
    """An argparse type for the field `name` of `schema`: the text read as a number (or null), checked by the field's
    own type and bounds, so that an option and its param are refused in the same words."""
    field = schema.model_fields[name]
    adapter = TypeAdapter(
        Annotated[field.annotation, *field.metadata], config=ConfigDict(allow_inf_nan=False)
    )

    def value(text: str) -> object:
        try:
            return adapter.validate_python(number_or_null(text), strict=True)
        except ValidationError as e:
            raise argparse.ArgumentTypeError(f"{text} is invalid: {e.errors()[0]['msg'].lower()}") from None

    return value


def number_or_null(text: str) -> int | float | str | None:
    """A command line's text as the int or float it spells, None for `null`, else the text itself."""
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            pass
    return None if text == "null" else text


def int_in(low: int, high: int) -> Callable[[str], int]:
    def integer(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, not {value}")
        return value

    return integer


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value
