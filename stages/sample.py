"""Sample words from one model with a seeded generator; measure how many are new and how long they are, and record
the sha256 of the model file they were drawn from.

python -m stages.sample NAME      (NAME: a model under `models:` in params.yaml)
"""

from makemore import MakemoreError
from makemore.artifacts import (
    file_sha256,
    instance_argument,
    read_words,
    run_stage,
    write_json,
    write_text,
    write_words,
)
from makemore.models.files import load_instance, model_file
from makemore.models.steps import progress
from makemore.params import load_params
from makemore.sampling import generate, length_distribution, novelty
from makemore.vocab import load_vocab


def main() -> None:
    name = instance_argument()
    params = load_params().sample
    vocab = load_vocab()
    model = load_instance(name, vocab)
    drawn_from = file_sha256(model_file(name, load_params()))
    samples = generate(model, params.num, params.seed, params.max_len, params.temperature, params.top_k)
    try:
        with progress(samples, f"sample {name}", params.num, unit="word") as bar:
            words = [vocab.decode(ids) for ids in bar]
    except MakemoreError as e:  # a message that starts with the param to blame: name its section
        raise MakemoreError(f"sample.{e}") from None
    train = read_words("data/prepared/train.txt")
    heldout = set(read_words("data/prepared/val.txt")) | set(read_words("data/prepared/test.txt"))
    write_words(f"data/samples/{name}.txt", words)
    write_json(
        f"metrics/sample/{name}.json", novelty(words, set(train), heldout) | {"model_sha256": drawn_from}
    )
    write_text(f"metrics/sample/{name}_lengths.csv", length_distribution(words, train))


if __name__ == "__main__":
    run_stage(main)
