"""Neural model: one linear layer W on one-hot inputs, trained by gradient descent on the bigram NLL."""

from makemore.artifacts import load_bigrams, load_counts, load_vocab, run_stage, save_tensors, write_csv, write_json
from makemore.bigram import count_bigrams, count_model, nll, train_nn
from makemore.params import load_params


def main() -> None:
    params = load_params().train
    vocab = load_vocab("data/prepared/vocab.json")
    train_counts = load_counts("data/bigrams/counts.pt", vocab)
    val_counts = count_bigrams(*load_bigrams("data/bigrams/val.pt", vocab), vocab.size)
    training = train_nn(
        train_counts,
        val_counts,
        lr=params.lr,
        steps=params.steps,
        reg=params.reg,
        seed=params.seed,
    )
    probs = training.W.softmax(dim=1)
    optimum = count_model(train_counts, smoothing=0)  # the maximum-likelihood solution gradient descent heads for
    final_nll, optimum_nll = nll(probs, train_counts), nll(optimum, train_counts)
    save_tensors("data/models/nn.pt", {"W": training.W, "probs": probs}, vocab)
    write_csv("metrics/train/loss.csv", ["step", "train", "val", "count_optimum"], [(*row, optimum_nll) for row in training.curve])
    write_json(
        "metrics/train/summary.json",
        {
            "train_nll": round(final_nll, 6),
            "optimum_train_nll": round(optimum_nll, 6),
            "gap_to_optimum": round(final_nll - optimum_nll, 6),
            "max_prob_diff_to_optimum": round((probs - optimum).abs().max().item(), 6),
        },
    )


if __name__ == "__main__":
    run_stage(main)
