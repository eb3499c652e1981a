"""Sample words from one model with a seeded generator; measure how many are new and how long they are.

    python stages/sample.py MODEL      (MODEL: count or nn)
"""

from makemore.artifacts import load_probs, load_vocab, model_argument, read_words, run_stage, write_json, write_text, write_words
from makemore.bigram import length_distribution, novelty, progress, sample
from makemore.params import load_params


def main() -> None:
    model = model_argument()
    params = load_params().sample
    vocab = load_vocab("data/prepared/vocab.json")
    probs = load_probs(f"data/models/{model}.pt", vocab)
    samples = sample(probs, params.num, params.seed, params.max_len, params.temperature, params.top_k)
    with progress(samples, f"sample {model}", params.num, unit="word") as bar:
        words = [vocab.decode(ids) for ids in bar]
    train = read_words("data/prepared/train.txt")
    heldout = set(read_words("data/prepared/val.txt")) | set(read_words("data/prepared/test.txt"))
    write_words(f"data/samples/{model}.txt", words)
    write_json(f"metrics/sample/{model}.json", novelty(words, set(train), heldout))
    write_text(f"metrics/sample/{model}_lengths.csv", length_distribution(words, train).to_csv(index=False))


if __name__ == "__main__":
    run_stage(main)
