"""The neural model's grids: softmax(W), and how far it is from the counts' maximum-likelihood probabilities.

The reference is the count model with smoothing 0, the one gradient descent heads for. It is made here
from the counts, so this stage stays on the neural branch and a change of count.smoothing never reruns it.
"""

from makemore.artifacts import load_counts, load_probs, load_vocab, run_stage, write_bytes
from makemore.bigram import count_model
from makemore.figures import grid, png


def main() -> None:
    vocab = load_vocab("data/prepared/vocab.json")
    probs = load_probs("data/models/nn.pt", vocab)
    optimum = count_model(load_counts("data/bigrams/counts.pt", vocab), smoothing=0)
    title = "Neural model: softmax(W), the probability of each next character"
    write_bytes("metrics/nn_grid.png", png(grid(probs, vocab.labels, title, fmt=".3f")))
    title = "softmax(W) minus the count model with smoothing 0 (N row-normalised)"
    write_bytes("metrics/nn_minus_count_grid.png", png(grid(probs - optimum, vocab.labels, title, fmt="+.3f", diverging=True)))


if __name__ == "__main__":
    run_stage(main)
