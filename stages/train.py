"""Fit one model of the ladder on the train split (val only watched); log its curve and summary with DVCLive.

python -m stages.train NAME      (NAME: a model under `models:` in params.yaml, or a mixture under `mixtures:`)

An instance with `processes` or `nodes` above 1 is trained by that many processes (makemore/models/distributed.py),
started here; rank 0 writes the outputs.
"""

import time
from pathlib import Path

from dvclive import Live

import makemore
from makemore import MakemoreError, ParamError
from makemore.artifacts import instance_argument, run_stage, write_json
from makemore.models import FAMILIES, instance_config
from makemore.models.contexts import SplitFile
from makemore.models.distributed import is_worker, launch, process_group, processes_in_run
from makemore.models.files import load_instance, model_file, save_model
from makemore.models.interface import FamilyConfig, FitData
from makemore.models.mixture import MixtureConfig
from makemore.models.steps import training_device
from makemore.models.training import TrainingConfig
from makemore.params import Params, load_params, parse_yaml
from makemore.tensorfiles import Checkpoint
from makemore.vocab import load_vocab

INPUTS = [Path(f"data/prepared/{name}") for name in ("vocab.json", "train.txt", "val.txt")]


def main() -> None:
    name = instance_argument()
    config = instance_config(name)
    if not isinstance(config, TrainingConfig):  # a count model: one process counts
        if is_worker():
            raise MakemoreError(
                f"models.{name}: a {config.family} model is fitted by one process, not by torchrun's"
            )
        train_instance(name, config, writes=True)
    elif not is_worker() and processes_in_run(config) > 1:
        launch(config, name, "stages.train")
    else:
        with process_group(config, name) as ranks:
            train_instance(name, config, ranks.main)


def train_instance(name: str, config: FamilyConfig, writes: bool) -> None:
    """Fit the instance `name`; write its model and metrics if `writes` (the one process of a run, or rank 0)."""
    params = load_params()
    max_len = params.data.max_len
    vocab = load_vocab()
    mixed = declared_mixture(name, config, params) if isinstance(config, MixtureConfig) else []
    trained = {model: load_instance(model, vocab) for model in mixed}
    train, val = (SplitFile(vocab, Path(f"data/prepared/{split}.txt")) for split in ("train", "val"))
    # outside the stage's outputs, which DVC deletes before it runs the stage again; this checkout's code in its key
    code = sorted(Path(makemore.__file__).parent.rglob("*.py"))
    # a checkpoint is one device's
    device = str(training_device(config.device)) if isinstance(config, TrainingConfig) else "cpu"
    checkpoint = Checkpoint.of(
        f"checkpoints/{name}.pt", [config.model_dump(), max_len, device], INPUTS + code
    )
    started = time.perf_counter()
    try:
        training = FAMILIES[config.family].fit(
            config, FitData(vocab, train, val, max_len, checkpoint, trained)
        )
    except ParamError as e:  # its message starts with the param it blames; prefix the instance's name
        section = "mixtures" if isinstance(config, MixtureConfig) else "models"
        raise MakemoreError(f"{section}.{name}.{e}") from None
    seconds = training.seconds[-1] if training.seconds else time.perf_counter() - started
    if not writes:
        return
    save_model(model_file(name, params), training.model, name)
    # No dvc.yaml of DVCLive's own: the project's dvc.yaml declares these files.
    with Live(f"metrics/train/{name}", dvcyaml=None, save_dvc_exp=False) as live:
        for row in training.curve:
            live.step = row["step"]
            for column, value in row.items():
                if column != "step":
                    # rounded as the metrics are, so that the last bits do not change from run to run
                    live.log_metric(f"{column}/nll", round(value, 6))
        live.summary |= training.summary
    # The training time differs from run to run, so it has a file of its own, apart from the outputs that must not.
    write_json(
        f"metrics/time/{name}.json", {"train_seconds": round(seconds, 1), "steps": training.curve[-1]["step"]}
    )
    checkpoint.remove()


def declared_mixture(name: str, config: MixtureConfig, params: Params) -> list[str]:
    """The models that `mixtures.NAME` mixes, once dvc.yaml's stage mix_NAME is seen to depend on each one's file.

    DVC takes no list of deps from params.yaml, so a mixture's stage is written out in dvc.yaml with the files of
    the models it mixes; run with one missing, DVC would not rerun the mixture when that model changes.
    """
    stage = parse_yaml(Path("dvc.yaml").read_text(encoding="utf-8"))["stages"].get(f"mix_{name}")
    if stage is None:
        raise MakemoreError(f"dvc.yaml: no stage mix_{name} for mixtures.{name}: write one as mix_mixture is")
    for path in (model_file(model, params) for model in config.of):
        if path not in stage.get("deps", []):
            raise MakemoreError(
                f"dvc.yaml: stage mix_{name} does not depend on {path}, a model's file that mixtures.{name}.of "
                f"names: add it to the stage's deps"
            )
    return config.of


if __name__ == "__main__":
    run_stage(main)
