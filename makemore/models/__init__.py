"""The model families, each a module here behind the interface of `makemore.models.interface.Model`, and the registry of
their names; their files are makemore/models/files.py's.

Adding a family: write its module (a `Model` subclass with its `Config`), add it to FAMILIES, and give
an instance of it in params.yaml under `models:`. The mixture family is the one whose instances go under
`mixtures:`: it mixes trained instances of the others.
"""

from pathlib import Path

from makemore import MakemoreError
from makemore.models.bow import BoW
from makemore.models.interface import FamilyConfig, Model
from makemore.models.mixture import Mixture, MixtureConfig
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
    "mixture": Mixture,
}
MODEL_FAMILIES = [family for family in FAMILIES if family != "mixture"]  # the families of `models:`


def instance_config(name: str, path: str | Path = PARAMS_FILE) -> FamilyConfig:
    """The config of the model `name` under `models:` (or `mixtures:`) in params.yaml, checked by its family."""
    params = load_params(path)
    if name in params.mixtures:
        return mixture_config(name, params.mixtures[name], list(params.models), path)
    models = params.models
    if name not in models:
        raise MakemoreError(
            f"models.{name}: no such model in {path} (its models: {', '.join(params.instances)})"
        )
    family = models[name].get("family")
    if family == "mixture":
        raise MakemoreError(
            f"{path}: models.{name}.family = 'mixture': a mixture goes under `mixtures:` (dvc.yaml's mix stage)"
        )
    if family not in FAMILIES:
        raise MakemoreError(
            f"{path}: models.{name}.family = {family!r} is not a model family (the families: {', '.join(MODEL_FAMILIES)})"
        )
    return validated(FAMILIES[family].Config, models[name], path, loc=("models", name))


def mixture_config(name: str, given: dict, models: list[str], path: str | Path) -> MixtureConfig:
    """The config of `mixtures.NAME`, whose `of` names models under `models:`."""
    config = validated(MixtureConfig, {"family": "mixture", **given}, path, loc=("mixtures", name))
    for mixed in config.of:
        if mixed not in models:
            raise MakemoreError(
                f"{path}: mixtures.{name}.of: {mixed!r} is not a model under `models:` (its models: {', '.join(models)})"
            )
    return config
