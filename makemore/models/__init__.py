"""The model families, each a module here behind the interface of `makemore.interface.Model`, and the registry of
their names; their files are makemore/models/files.py's.

Adding a family: write its module (a `Model` subclass with its `Config`), add it to FAMILIES, and give
an instance of it in params.yaml under `models:`.
"""

from pathlib import Path

from makemore import MakemoreError
from makemore.interface import FamilyConfig, Model
from makemore.models.bow import BoW
from makemore.models.mlp import MLP
from makemore.models.ngram import NGram
from makemore.models.onelayer import OneLayer
from makemore.models.rnn import RNN
from makemore.models.transformer import Transformer
from makemore.models.wavenet import WaveNet
from makemore.params import PARAMS_FILE, load_params, validated

FAMILIES: dict[str, type[Model]] = {
    "ngram": NGram,
    "onelayer": OneLayer,
    "mlp": MLP,
    "wavenet": WaveNet,
    "bow": BoW,
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
        raise MakemoreError(
            f"{path}: models.{name}.family = {family!r} is not a model family (the families: {', '.join(FAMILIES)})"
        )
    return validated(FAMILIES[family].Config, models[name], path, loc=("models", name))
