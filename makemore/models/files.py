"""A trained model's file, data/models/NAME.pt (a mixture's: data/mixtures/NAME.pt): its tensors, its config, its instance's name and a checksum, written
with torch.save and read with weights_only=True (nothing is unpickled), and checked against params.yaml."""

import hashlib
import json
from pathlib import Path

import torch

from makemore import MakemoreError
from makemore.models import FAMILIES, instance_config
from makemore.models.interface import FamilyConfig, Model
from makemore.models.mixture import Mixture
from makemore.params import PARAMS_FILE, Params, load_params
from makemore.tensorfiles import load_tensors, save_tensors
from makemore.vocab import BOUNDARY, Vocabulary


def save_model(path: str | Path, model: Model, name: str) -> None:
    """The model's tensors, its config (family included, as JSON) and the name of its instance in params.yaml, with
    a checksum of them all: the file says what it holds, and a changed byte is found."""
    contents = {**model.tensors(), "config": json.dumps(model.config.model_dump()), "name": name}
    save_tensors(path, {**contents, "checksum": checksum(contents)}, model.vocab.codepoints)


def load_model(path: str | Path, vocab: Vocabulary, name: str) -> Model:
    """The model of the instance `name` saved at `path`, checked: its checksum, its name, a known family with a valid
    config, and predictions that are distributions."""
    tensors = load_tensors(path, vocab.codepoints)
    corrupt = MakemoreError(
        f"{path}: not a model written by this pipeline's train stage (corrupt, or from another version): run `dvc repro`"
    )
    stored = tensors.pop("checksum", None)
    if not (isinstance(stored, str) and stored == checksum(tensors)):
        raise MakemoreError(
            f"{path}: its contents do not match their checksum (corrupt, or from another version): run `dvc repro -f train@{name}`"
        )
    if tensors.pop("name", None) != name:
        raise MakemoreError(
            f"{path}: holds another model than {name} (copied over it?): run `dvc repro -f train@{name}`"
        )
    try:
        config = json.loads(tensors.pop("config"))
        family = FAMILIES[config["family"]]
        model = family.from_tensors(family.Config.model_validate(config), vocab, tensors)
        probs = model.log_probs(torch.full((1, model.context_length), BOUNDARY)).double().exp()
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError):
        raise corrupt from None
    if not (torch.isfinite(probs).all() and abs(probs.sum().item() - 1) < 1e-4):
        raise corrupt
    return model


def load_model_file(path: str | Path) -> tuple[str, Model]:
    """A model file on its own, as `dvc artifacts get` fetches it: the name of its instance and the model, read with
    the vocabulary the file holds and checked as `load_model` checks it (there is no params.yaml to compare with)."""
    try:
        stored = torch.load(path, weights_only=True)
        name = stored["name"]
        vocab = Vocabulary.from_chars(chr(codepoint) for codepoint in stored["vocabulary"].tolist())
    except FileNotFoundError:
        raise MakemoreError(f"{path}: no such file") from None
    except Exception:
        raise MakemoreError(f"{path}: not a model file written by this pipeline's train stage") from None
    return name, load_model(path, vocab, name)


def load_instance(name: str, vocab: Vocabulary, root: Path = Path()) -> Model:
    """The trained model of `models.NAME` (or `mixtures.NAME`) in the params.yaml of the project at `root`, refused
    if it was trained with other params; a mixture also if any model it holds was."""
    params = root / PARAMS_FILE
    path = root / model_file(name, load_params(params))
    model = load_model(path, vocab, name)
    checked = [("mixtures" if isinstance(model, Mixture) else "models", name, model)]
    if isinstance(model, Mixture):
        checked += [("models", held, component) for held, component in zip(model.config.of, model.components)]
    for section, checked_name, checked_model in checked:
        wanted = instance_config(checked_name, params)
        if (difference := config_difference(checked_model.config, wanted)) is not None:
            raise MakemoreError(
                f"{path}: trained with other params than {section}.{checked_name} in {params} ({difference}): run `dvc repro`"
            )
    return model


def model_file(name: str, params: Params) -> str:
    """Where the instance `name` of `params` is saved: a model's file, or a mixture's (apart: its stage reads every
    model's file, and DVC takes no list of deps from params.yaml)."""
    return f"data/mixtures/{name}.pt" if name in params.mixtures else f"data/models/{name}.pt"


def config_difference(trained: FamilyConfig, wanted: FamilyConfig) -> str | None:
    """The first param in which two configs differ, as `KEY: WANTED now, TRAINED in the model`; None if none does."""
    trained_params, wanted_params = trained.model_dump(), wanted.model_dump()
    for key in [*wanted_params, *(key for key in trained_params if key not in wanted_params)]:
        if wanted_params.get(key) != trained_params.get(key):
            return f"{key}: {wanted_params.get(key)!r} now, {trained_params.get(key)!r} in the model"
    return None


def checksum(contents: dict[str, torch.Tensor | str]) -> str:
    """sha256 of every entry: its name, and a tensor's dtype, shape and bytes, or a string's text."""
    digest = hashlib.sha256()
    for key in sorted(contents):
        value = contents[key]
        digest.update(key.encode() + b"\0")
        if isinstance(value, torch.Tensor):
            digest.update(f"{value.dtype} {tuple(value.shape)}\0".encode())
            digest.update(value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
        else:
            digest.update(str(value).encode() + b"\0")
    return digest.hexdigest()
