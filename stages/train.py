"""Fit one model of the ladder on the train split (val only watched), and write its fit summary and curve.

    python stages/train.py NAME      (NAME: a model under `models:` in params.yaml)
"""

from makemore import MakemoreError
from makemore.artifacts import instance_argument, load_vocab, read_words, run_stage, write_csv, write_json
from makemore.contexts import Positions
from makemore.models import FAMILIES, instance_config, save_model


def main() -> None:
    name = instance_argument()
    config = instance_config(name)
    vocab = load_vocab("data/prepared/vocab.json")
    train, val = (Positions.of(vocab, read_words(f"data/prepared/{split}.txt")) for split in ("train", "val"))
    try:
        training = FAMILIES[config.family].fit(config, vocab, train, val)
    except MakemoreError as e:  # a family's message starts with the param it blames: name its model too
        raise MakemoreError(f"models.{name}.{e}") from None
    save_model(f"data/models/{name}.pt", training.model)
    write_json(f"metrics/train/{name}.json", training.summary)
    rows = [[round(value, 6) for value in row.values()] for row in training.curve]  # as the metrics: stable in the last bits
    write_csv(f"metrics/train/{name}.csv", list(training.curve[0]), rows)


if __name__ == "__main__":
    run_stage(main)
