"""Evaluate one model: mean NLL per predicted token, perplexity and token counts on every split, and the sha256 of
the model file measured (the CLI, the page and the API show the metrics only beside that file); and each val
word's log-likelihood, which the compare stage resamples.

python -m stages.evaluate NAME      (NAME: a model under `models:` in params.yaml)
"""

from pathlib import Path

from makemore.artifacts import file_sha256, instance_argument, run_stage, write_json
from makemore.compare import write_word_scores
from makemore.evaluate import score
from makemore.models.contexts import SplitFile
from makemore.models.files import load_instance, model_file
from makemore.models.scoring import word_log_likelihoods
from makemore.params import load_params
from makemore.vocab import SPLITS, load_vocab


def main() -> None:
    name = instance_argument()
    vocab = load_vocab()
    model = load_instance(name, vocab)
    measured = file_sha256(model_file(name, load_params()))
    splits = {split: SplitFile(vocab, Path(f"data/prepared/{split}.txt")) for split in SPLITS}
    metrics = {split: score(model, words) for split, words in splits.items()}
    write_json(f"metrics/evaluate/{name}.json", metrics | {"model_sha256": measured})
    write_word_scores(f"data/scores/{name}.tsv", *word_log_likelihoods(model, splits["val"].whole()))


if __name__ == "__main__":
    run_stage(main)
