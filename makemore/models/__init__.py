"""The model families, each a module here behind the interface of `base.Model`, and the registry of their names.

Adding a family: write its module (a `Model` subclass with its `Config`), add it to FAMILIES, and give
an instance of it in params.yaml under `models:`.
"""

import json
from pathlib import Path

import torch

from makemore import MakemoreError
from makemore.artifacts import load_tensors, save_tensors
from makemore.models.base import FamilyConfig, Model
from makemore.models.mlp import MLP
from makemore.models.ngram import NGram
from makemore.models.onelayer import OneLayer
from makemore.models.rnn import RNN
from makemore.models.transformer import Transformer
from makemore.params import PARAMS_FILE, load_params, validated
from makemore.vocab import BOUNDARY, Vocabulary

FAMILIES: dict[str, type[Model]] = {
    "ngram": NGram,
    "onelayer": OneLayer,
    "mlp": MLP,
    "rnn": RNN,
    "transformer": Transformer,
}


def instance_config(name: str, path: str | Path = PARAMS_FILE) -> FamilyConfig:
    """The config of the model `name` under `models:` in params.yaml, checked by its family."""
    models = load_params(path).models
    if name not in models:
        raise MakemoreError(f"models.{name}: no such model in {path} (its models: {', '.join(models)})")
    family = models[name].get("family")
    if family not in FAMILIES:
        raise MakemoreError(f"{path}: models.{name}.family = {family!r} is not a model family (the families: {', '.join(FAMILIES)})")
    return validated(FAMILIES[family].Config, models[name], path, loc=("models", name))


def save_model(path: str | Path, model: Model) -> None:
    """The model's tensors and its config (family included, as JSON): the file says what it holds."""
    save_tensors(path, {**model.tensors(), "config": json.dumps(model.config.model_dump())}, model.vocab)


def load_model(path: str | Path, vocab: Vocabulary) -> Model:
    """The model saved at `path`, checked: a known family, its config valid, and its predictions distributions."""
    tensors = load_tensors(path, vocab)
    corrupt = MakemoreError(f"{path}: not a model written by this pipeline's train stage (corrupt, or from another version)")
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
