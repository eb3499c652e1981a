"""The lecture's grids of the neural bigram model `nn`: softmax(W), and how far it is from the row-normalised counts.

The reference is the count model with k 0, the one gradient descent heads for, made here from the
counts, so this stage stays on the `nn` branch and a change of the count model never reruns it.
"""

from makemore import MakemoreError
from makemore.artifacts import run_stage, write_bytes
from makemore.bigram import load_counts, row_normalised
from makemore.evaluate import bigram_table
from makemore.figures import grid, png
from makemore.models.files import load_instance
from makemore.vocab import load_vocab


def main() -> None:
    vocab = load_vocab()
    model = load_instance("nn", vocab)
    if model.context_length != 1:
        raise MakemoreError(
            f"models.nn: the lecture's grids draw a bigram model (order 2), not one of order {model.context_length + 1}"
        )
    probs = bigram_table(model)
    optimum = row_normalised(load_counts("data/bigrams/counts.pt", vocab))
    title = "Neural model: softmax(W), the probability of each next character"
    write_bytes("metrics/nn_grid.png", png(grid(probs, vocab.labels, title, fmt=".3f")))
    title = "softmax(W) minus the count model with k 0 (N row-normalised)"
    write_bytes(
        "metrics/nn_minus_count_grid.png",
        png(grid(probs - optimum, vocab.labels, title, fmt="+.3f", diverging=True)),
    )


if __name__ == "__main__":
    run_stage(main)
