"""The neural families (mlp, wavenet, bow, rnn, transformer), trained tiny by the shared loop, against direct computations."""

import json
import math
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from helpers import (
    NETWORK_FAMILIES,
    ROOT,
    assert_every_constraint_holds,
    default_words,
    set_params,
    stage_in_process,
)

from makemore import MakemoreError
from makemore.api import Trained
from makemore.artifacts import write_text
from makemore.evaluate import score
from makemore.models import FAMILIES
from makemore.models.contexts import EVAL_TOKENS, IGNORED, Positions, length_chunks
from makemore.models.files import load_model, save_model
from makemore.models.interface import FitData
from makemore.models.scoring import total_log_likelihood
from makemore.models.steps import FORECAST_AFTER, Forecast
from makemore.models.training import Batches
from makemore.sampling import generate
from makemore.tensorfiles import Checkpoint
from makemore.vocab import BOUNDARY, Vocabulary

TINY = {  # a tiny net of every neural family and variant
    "mlp": {"family": "mlp", "context": 3, "embedding": 8, "hidden": 32, "layernorm": True},
    "wavenet": {"family": "wavenet", "context": 4, "embedding": 8, "hidden": 32},
    "bow": {"family": "bow", "embedding": 16, "hidden": 32},
    "rnn": {"family": "rnn", "cell": "rnn", "embedding": 8, "hidden": 32, "layers": 2, "dropout": 0.1},
    "gru": {"family": "rnn", "cell": "gru", "embedding": 8, "hidden": 32, "layers": 2, "dropout": 0.1},
    "lstm": {"family": "rnn", "cell": "lstm", "embedding": 8, "hidden": 32, "layers": 2, "dropout": 0.1},
    "transformer": {"family": "transformer", "layers": 2, "heads": 2, "embedding": 16, "dropout": 0.1},
}
NETWORKS = list(TINY)
MAX_LEN = 20  # data.max_len of these tests: the whole-word nets read this many characters
TRAINING = {
    "steps": 60,
    "batch_size": 32,
    "lr": 0.01,
    "warmup": 5,
    "min_lr": 0.001,
    "weight_decay": 0.01,
    "eval_every": 10,
    "seed": 3,
}


def tiny(name: str, **changes):
    return FAMILIES[TINY[name]["family"]].Config.model_validate(TINY[name] | TRAINING | changes)


def test_every_neural_family_of_the_registry_has_a_tiny_net_here():
    assert {config["family"] for config in TINY.values()} == set(NETWORK_FAMILIES)


@pytest.fixture(scope="module")
def data() -> tuple[Vocabulary, Positions, Positions]:
    words = default_words()[:1500]
    vocab = Vocabulary.from_words(words)
    return vocab, Positions.of(vocab, words[:1200]), Positions.of(vocab, words[1200:])


@pytest.fixture(scope="module", params=NETWORKS)
def trained(request, data, tmp_path_factory):
    vocab, train, val = data
    checkpoint = Checkpoint(tmp_path_factory.mktemp(request.param) / "checkpoint.pt", key="tiny")
    return FAMILIES[TINY[request.param]["family"]].fit(
        tiny(request.param), FitData(vocab, train, val, max_len=MAX_LEN, checkpoint=checkpoint)
    ), checkpoint


def test_every_constraint_holds_on_the_words_a_net_samples_and_ranks(trained, tmp_path):
    trained, _ = trained
    words = default_words()
    data_file = tmp_path / "names.txt"
    data_file.write_text("".join(f"{word}\n" for word in words[:1200]), encoding="utf-8")
    as_trained = Trained("tiny", trained.model, Path("vocab.json"), "sha256", data_file=data_file)
    assert_every_constraint_holds(as_trained, words[200:400], tmp_path, max_len=MAX_LEN)


def test_the_first_loss_is_near_uniform_and_the_loss_falls(trained, data):
    trained, _ = trained
    vocab, _, _ = data
    curve = trained.curve
    # part 3's initialisation: no confident guesses
    assert curve[0]["val"] == pytest.approx(math.log(vocab.size), abs=0.1)
    assert curve[-1]["train"] < curve[0]["train"] - 0.4
    assert min(row["val"] for row in curve) < curve[0]["val"] - 0.4
    assert [row["step"] for row in curve] == list(range(0, TRAINING["steps"] + 1, TRAINING["eval_every"]))


def test_the_kept_model_is_the_checkpoint_with_the_best_val_nll(trained, data):
    trained, _ = trained
    _, _, val = data
    best = min(trained.curve, key=lambda row: row["val"])
    assert trained.summary["best_step"] == best["step"]
    assert score(trained.model, val)["nll"] == pytest.approx(best["val"], abs=1e-6)
    assert trained.summary["parameters"] == sum(p.numel() for p in trained.model.net.parameters())


def test_the_nll_equals_a_direct_computation_word_by_word(trained, data):
    trained, _ = trained
    vocab, _, val = data
    longest = trained.model.max_word_length or math.inf  # an MLP reads any word
    words = [word for word in default_words()[1200:1240] if len(word) <= longest]
    assert len(words) > 30
    total = 0.0
    for word in words:  # the net on one word at a time, no padding, no prefix sharing
        tokens = torch.tensor([BOUNDARY, *vocab.encode([word])[1:-1].tolist()])
        targets = torch.cat([tokens[1:], torch.tensor([BOUNDARY])])
        total += (
            trained.model.net(tokens[None])
            .log_softmax(-1)[0, torch.arange(len(tokens)), targets]
            .double()
            .sum()
            .item()
        )
    positions = Positions.of(vocab, words)
    assert total_log_likelihood(trained.model, positions)[0] == pytest.approx(total, rel=1e-6)
    # the context-by-context path (sampling's) gives the same probabilities as the word-by-word one (evaluation's)
    contexts = positions.contexts(trained.model.context_length, torch.arange(len(positions)))
    by_context = trained.model.log_probs(contexts)[torch.arange(len(positions)), positions.targets.long()]
    torch.testing.assert_close(
        by_context, trained.model.log_probs_of(contexts, positions.targets), atol=1e-5, rtol=0
    )


def test_a_word_of_max_len_characters_is_read_whole_and_a_longer_one_is_refused(trained, data):
    trained, _ = trained
    vocab, _, _ = data
    model = trained.model
    longest = "".join(vocab.chars[i % len(vocab.chars)] for i in range(MAX_LEN))  # longer than any train word
    tokens = torch.tensor([BOUNDARY, *vocab.encode([longest])[1:-1].tolist()])
    targets = torch.cat([tokens[1:], torch.tensor([BOUNDARY])])
    whole = model.net(tokens[None]).log_softmax(-1)[0, torch.arange(len(tokens)), targets].double()
    positions = Positions.of(vocab, [longest])
    contexts = positions.contexts(model.context_length, torch.arange(len(positions)))
    if model.max_word_length is None:  # a net of windows reads its context, whatever the word's length
        assert model.config.family in {"mlp", "wavenet"}
        return
    assert model.max_word_length == MAX_LEN
    torch.testing.assert_close(
        model.log_probs_of(contexts, positions.targets).double(), whole, atol=1e-5, rtol=0
    )
    longer = Positions.of(vocab, [longest + vocab.chars[0]])
    with pytest.raises(
        MakemoreError, match=f"a word longer than the {MAX_LEN} characters this model reads whole"
    ):
        model.log_probs_of(longer.contexts(model.context_length, torch.arange(len(longer))), longer.targets)
    with pytest.raises(
        MakemoreError,
        match=f"max_len = {MAX_LEN + 1} is more than the {MAX_LEN} characters this model reads whole",
    ):
        next(generate(model, num=1, seed=0, max_len=MAX_LEN + 1))


def test_a_net_whose_val_nll_never_falls_writes_no_model(data):
    vocab, _, _ = data
    train, val = (
        Positions.of(vocab, ["aaa", "aa", "aaaa"] * 50),
        Positions.of(vocab, ["bbb", "bb", "bbbb"] * 10),
    )
    with pytest.raises(
        MakemoreError,
        match=r"lr = 0.01: the val NLL never fell below the untrained net's \(\d\.\d{4} at step 0\)",
    ):
        FAMILIES["rnn"].fit(tiny("rnn"), FitData(vocab, train, val, max_len=MAX_LEN))


def test_patience_stops_once_val_stops_improving_and_keeps_the_best_weights(data):
    # Every train word is "aab" and every val word "aaa": learning the first two characters helps val, and
    # learning that b follows "aa" then hurts it, so val falls and rises again, whatever the net's details.
    vocab, _, _ = data
    train, val = Positions.of(vocab, ["aab"] * 60), Positions.of(vocab, ["aaa"] * 20)
    patience, every, steps = 3, 5, 400
    config = tiny("mlp", steps=steps, eval_every=every, patience=patience)
    trained = FAMILIES["mlp"].fit(config, FitData(vocab, train, val, max_len=MAX_LEN))
    measured = [row["step"] for row in trained.curve]
    best = min(trained.curve, key=lambda row: row["val"])
    assert measured[-1] < steps and measured == list(range(0, measured[-1] + 1, every))
    # it stops at the first row that makes `patience` rows in a row without a new best
    assert [row["step"] for row in trained.curve if row["step"] > best["step"]] == [
        best["step"] + every * (k + 1) for k in range(patience)
    ]
    assert trained.summary["best_step"] == best["step"] > 0
    assert score(trained.model, val)["nll"] == pytest.approx(best["val"], abs=1e-6)


def test_epochs_give_the_steps_of_that_many_passes_over_the_train_words(data, tmp_path):
    vocab, train, val = data
    words, epochs = 1200, 0.5  # the data fixture's train words
    config = FAMILIES["mlp"].Config.model_validate(
        {key: value for key, value in (TINY["mlp"] | TRAINING).items() if key != "steps"} | {"epochs": epochs}
    )
    trained = FAMILIES["mlp"].fit(config, FitData(vocab, train, val, max_len=MAX_LEN))
    assert trained.curve[-1]["step"] == math.ceil(epochs * words / TRAINING["batch_size"]) == 19
    save_model(tmp_path / "mlp.pt", trained.model, "mlp")  # its file reads back, with the epochs it was given
    assert load_model(tmp_path / "mlp.pt", vocab, "mlp").config == config
    with pytest.raises(
        MakemoreError, match=r"^epochs = 0.05 of 1,200 train words at batch_size = 32 is steps = 2: "
    ):
        FAMILIES["mlp"].fit(
            config.model_copy(update={"epochs": 0.05}), FitData(vocab, train, val, max_len=MAX_LEN)
        )
    with pytest.raises(
        MakemoreError, match=r"^epochs = 1e\+06 of .* is steps = 37,500,000: more than 10,000,000$"
    ):
        FAMILIES["mlp"].fit(
            config.model_copy(update={"epochs": 1e6}), FitData(vocab, train, val, max_len=MAX_LEN)
        )


def test_a_spent_budget_stops_at_the_next_val_measurement_and_keeps_the_best_weights(data):
    vocab, train, val = data
    # any machine takes longer than a nanosecond to reach the first measurement after step 0
    trained = FAMILIES["mlp"].fit(tiny("mlp", budget=1e-9), FitData(vocab, train, val, max_len=MAX_LEN))
    assert [row["step"] for row in trained.curve] == [0, TRAINING["eval_every"]]
    best = min(trained.curve, key=lambda row: row["val"])
    assert score(trained.model, val)["nll"] == pytest.approx(best["val"], abs=1e-6)


def test_a_later_character_does_not_change_earlier_predictions(trained, data):
    trained, _ = trained
    vocab, _, _ = data
    net = trained.model.net
    width = net.context_length
    words = torch.randint(1, vocab.size, (8, width), generator=torch.Generator().manual_seed(0))
    words[:, 0] = BOUNDARY
    for position in range(1, width):
        changed = words.clone()
        changed[:, position] = changed[:, position] % (vocab.size - 1) + 1
        before, after = net(words), net(changed)
        torch.testing.assert_close(after[:, :position], before[:, :position], atol=1e-6, rtol=0)
        assert not torch.allclose(after[:, position], before[:, position])


def test_a_batch_of_training_holds_whole_train_words_each_read_as_if_it_were_alone(trained, data):
    """Packed rows (several words one after another) or a word a row: the logits of each word in a row are those
    of the word alone, and its targets are its next tokens up to its end."""
    trained, _ = trained
    vocab, train, _ = data
    net = trained.model.net
    batches = Batches.of(train)
    generator = torch.Generator().manual_seed(0)
    inputs, targets, positions = batches.draw(8, generator, torch.device("cpu"), net.reads_packed_rows)
    assert (positions is not None) == (trained.model.config.family != "rnn")
    logits = net(inputs, positions)
    train_words, words_read = set(default_words()[:1200]), 0  # the train words of `data`
    for row in range(len(inputs)):
        starts = (positions[row] == 0).nonzero().squeeze(1).tolist() if positions is not None else [0]
        ends = [*starts[1:], int((targets[row] != IGNORED).sum()) if positions is None else inputs.shape[1]]
        for start, end in zip(starts, ends):
            word = inputs[row, start:end]
            torch.testing.assert_close(logits[row, start:end], net(word[None])[0], atol=1e-5, rtol=0)
            assert torch.equal(targets[row, start : end - 1], word[1:])
            if targets[row, end - 1] == BOUNDARY:  # a word that ends in the row, not cut by its end
                assert vocab.decode(word[1:].tolist()) in train_words
                words_read += 1
    assert words_read >= 4


def test_a_run_resumed_from_its_last_checkpoint_ends_as_the_uninterrupted_run(trained, data):
    """The checkpoint left after the last row but one (a run killed before its end) goes on to the same curve and
    weights: dropout, the batches and AdamW's moments resume where they were."""
    trained, checkpoint = trained
    vocab, train, val = data
    assert (
        torch.load(checkpoint.path, weights_only=True)["step"]
        == TRAINING["steps"] - TRAINING["eval_every"] + 1
    )
    resumed = FAMILIES[trained.model.config.family].fit(
        trained.model.config, FitData(vocab, train, val, max_len=MAX_LEN, checkpoint=checkpoint)
    )
    assert resumed.curve == trained.curve and resumed.summary == trained.summary
    assert resumed.model.tensors().keys() == trained.model.tensors().keys()
    assert all(torch.equal(resumed.model.tensors()[k], v) for k, v in trained.model.tensors().items())


def test_a_checkpoint_of_another_run_or_a_damaged_one_is_not_resumed(data, tmp_path, capfd):
    vocab, train, val = data
    config = tiny("rnn", steps=20)
    checkpoint = Checkpoint(tmp_path / "checkpoint.pt", key="one run")
    first = FAMILIES["rnn"].fit(config, FitData(vocab, train, val, max_len=MAX_LEN, checkpoint=checkpoint))
    other = Checkpoint(checkpoint.path, key="another run")
    assert (
        FAMILIES["rnn"].fit(config, FitData(vocab, train, val, max_len=MAX_LEN, checkpoint=other)).curve
        == first.curve
    )
    assert "resuming" not in capfd.readouterr().err
    checkpoint.path.write_bytes(checkpoint.path.read_bytes()[:1000])  # a write cut short
    assert (
        FAMILIES["rnn"].fit(config, FitData(vocab, train, val, max_len=MAX_LEN, checkpoint=checkpoint)).curve
        == first.curve
    )
    assert capfd.readouterr().err.splitlines() == [
        f"warning: {checkpoint.path}: not a readable checkpoint, so training starts over"
    ]


def test_a_checkpoint_key_holds_the_settings_and_the_contents_of_the_files(tmp_path):
    (tmp_path / "train.txt").write_text("emma\n")
    key = Checkpoint.of("checkpoint.pt", {"lr": 0.1}, [tmp_path / "train.txt"]).key
    assert Checkpoint.of("checkpoint.pt", {"lr": 0.1}, [tmp_path / "train.txt"]).key == key
    assert Checkpoint.of("checkpoint.pt", {"lr": 0.2}, [tmp_path / "train.txt"]).key != key
    (tmp_path / "train.txt").write_text("emmy\n")
    assert Checkpoint.of("checkpoint.pt", {"lr": 0.1}, [tmp_path / "train.txt"]).key != key


@pytest.mark.long
def test_ctrl_c_halfway_through_training_and_the_next_dvc_repro_give_the_bytes_of_an_uninterrupted_run(
    project,
):
    project.set_params(
        models__tiny=TINY["gru"]
        | TRAINING
        | {"layers": 1, "hidden": 16, "batch_size": 16, "steps": 400, "eval_every": 40}
    )
    checkpoint = project.path / "checkpoints/tiny.pt"
    repro = subprocess.Popen(
        ["dvc", "repro", "train@tiny"],
        cwd=project.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600  # a bound on the wait for the event, not a timing
    while (step := saved_step(checkpoint)) < 200:
        assert repro.poll() is None and time.monotonic() < deadline, repro.communicate()
        time.sleep(0.05)  # leave the cores to the run
    os.killpg(repro.pid, signal.SIGINT)  # a Ctrl-C reaches every process of the terminal's foreground group
    assert repro.wait(timeout=120) != 0
    assert not (project.path / "data/models/tiny.pt").exists()
    step = saved_step(checkpoint)
    assert 200 <= step < 400
    assert project.repro("train@tiny") == ["train@tiny"]
    assert f"resuming from step {step} (checkpoints/tiny.pt)" in project.last.stderr
    assert not checkpoint.exists()  # removed once the stage's outputs are written
    resumed = project.outputs()
    assert project.repro("--force", "--single-item", "train@tiny") == ["train@tiny"]
    assert "resuming" not in project.last.stderr
    assert project.outputs() == resumed


def saved_step(checkpoint: Path) -> int:
    """The step a checkpoint resumes from; 0 while there is none."""
    try:
        return torch.load(checkpoint, weights_only=True)["step"]
    except FileNotFoundError:
        return 0


def test_words_are_read_in_chunks_of_similar_length_within_the_budget():
    ends = sorted([3] * 5000 + [7] * 9000 + [15] * 4000 + [40_000, 99_999])
    chunks = list(length_chunks(ends))
    # all, once
    assert [first for first, _ in chunks] == [0, *(last for _, last in chunks[:-1])] and chunks[-1][1] == len(
        ends
    )
    for first, last in chunks:
        # a word too long is read alone
        assert (last - first) * (ends[last - 1] + 1) <= EVAL_TOKENS or last == first + 1
        assert last == len(ends) or (last - first + 1) * (ends[last] + 1) > EVAL_TOKENS  # as many as fit
    assert chunks[-2:] == [(len(ends) - 2, len(ends) - 1), (len(ends) - 1, len(ends))]


def test_a_run_forecast_to_take_hours_says_so_once_and_a_short_one_says_nothing(capsys):
    forecast = Forecast(total=3000)
    forecast.done(5, now=forecast.started + FORECAST_AFTER / 2)  # too early to tell
    forecast.done(6, now=forecast.started + 11)
    forecast.done(7, now=forecast.started + 12)
    assert capsys.readouterr().err.splitlines() == [
        "warning: at its pace so far (6 steps in 11 s), this run takes about 1.5 more hours for its 3,000 steps; Ctrl-C stops it"
    ]
    short = Forecast(total=3000, initial=1000)
    short.done(1500, now=short.started + 60)
    assert capsys.readouterr().err == ""


def test_the_forecast_leaves_the_measurements_of_val_out_of_the_steps_pace_and_counts_them_apart(capsys):
    # WaveNet on 356,000 words: val measured at step 0 in 12 s, then 0.05 s a step; 1,500 steps, val every 100
    quick = Forecast(total=1500, every=100)
    quick.measured(12.0)
    for count in range(1, 1501):
        quick.done(count, now=quick.started + 12.0 + 0.05 * count)
    assert capsys.readouterr().err == ""  # 75 s of steps and 15 more measurements of 12 s: minutes, not hours
    slow_val = Forecast(total=1500, every=100)
    slow_val.measured(400.0)  # at step 0; 15 more measurements of 400 s, from step 100 on: 1.7 hours
    slow_val.done(100, now=slow_val.started + 400.0 + 0.11 * 100)
    assert capsys.readouterr().err.splitlines() == [
        "warning: at its pace so far (100 steps in 11 s), this run takes about 1.7 more hours for its 1,500 steps "
        "and 15 measurements of val; Ctrl-C stops it"
    ]


def test_a_checkpoint_round_trips(trained, data, tmp_path):
    trained, _ = trained
    vocab, _, val = data
    save_model(tmp_path / "model.pt", trained.model, "model")
    loaded = load_model(tmp_path / "model.pt", vocab, "model")
    assert loaded.tensors().keys() == trained.model.tensors().keys()
    assert all(torch.equal(loaded.tensors()[k], v) for k, v in trained.model.tensors().items())
    contexts = val.contexts(loaded.context_length, torch.arange(len(val)))
    assert torch.equal(loaded.log_probs(contexts), trained.model.log_probs(contexts))


def test_training_is_deterministic_with_dropout_and_device_auto_without_a_gpu_is_the_cpu(data, tmp_path):
    vocab, train, val = data
    first, again, auto = (
        FAMILIES["transformer"].fit(
            tiny("transformer", device=device), FitData(vocab, train, val, max_len=MAX_LEN)
        )
        for device in ("cpu", "cpu", "auto")
    )
    save_model(tmp_path / "first.pt", first.model, "model")
    save_model(tmp_path / "again.pt", again.model, "model")
    assert (tmp_path / "again.pt").read_bytes() == (tmp_path / "first.pt").read_bytes()
    assert again.curve == first.curve
    if not torch.cuda.is_available():
        assert auto.curve == first.curve
        assert all(torch.equal(auto.model.tensors()[k], v) for k, v in first.model.tensors().items())


@pytest.mark.parametrize(
    "family, changes, message",
    [
        ("mlp", {"warmup": 100}, "warmup = 100 is more than steps = 60"),
        (
            "rnn",
            {"steps": 100_000, "eval_every": 1},
            "eval_every = 1 measures val 100,001 times in steps = 100000: at most 1,001",
        ),
        ("rnn", {"min_lr": 0.1}, "min_lr = 0.1 is more than lr = 0.01"),
        (
            "rnn",
            {"weight_decay": 1e6},
            r"weight_decay = 1e\+06 is too large for lr = 0.01: AdamW's decay multiplies every weight by 1 - lr \* weight_decay = -9999",
        ),
        ("transformer", {"embedding": 18, "heads": 4}, "embedding = 18 is not a multiple of heads = 4"),
        ("transformer", {"device": "gpu"}, "device"),
        ("gru", {"patience": 0}, "patience"),
        ("gru", {"epochs": 2}, "give steps = 60 or epochs = 2, not both"),
        ("lstm", {"budget": 0}, "budget"),
        ("wavenet", {"context": 6}, "context = 6 is not a power of 2"),
    ],
)
def test_bad_network_params_are_named(family, changes, message):
    with pytest.raises(ValueError, match=message):
        tiny(family, **changes)


def test_the_stages_train_evaluate_and_sample_each_network_and_log_its_curve_with_dvclive(tmp_path):
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    set_params(
        tmp_path, models={f"tiny_{family}": TINY[family] | TRAINING for family in NETWORKS}, sample__num=50
    )
    write_text(tmp_path / "data/names.txt", "".join(f"{word}\n" for word in default_words()[:1500]))
    stages = [
        "prepare",
        *(f"{stage}@tiny_{family}" for family in NETWORKS for stage in ("train", "evaluate", "sample")),
    ]
    results = [stage_in_process(tmp_path, *stage.split("@")) for stage in stages]
    assert [r.returncode for r in results] == [0] * len(stages), [r.stderr for r in results]
    for family in NETWORKS:
        name = f"tiny_{family}"
        # what `dvc exp show` shows
        summary = json.loads((tmp_path / f"metrics/train/{name}/metrics.json").read_text())
        val = pd.read_csv(tmp_path / f"metrics/train/{name}/plots/metrics/val/nll.tsv", sep="\t")
        train = pd.read_csv(tmp_path / f"metrics/train/{name}/plots/metrics/train/nll.tsv", sep="\t")
        steps = list(range(0, TRAINING["steps"] + 1, TRAINING["eval_every"]))
        assert val["step"].tolist() == train["step"].tolist() == steps
        assert summary["step"] == TRAINING["steps"] and summary["val"]["nll"] == val["nll"].iloc[-1]
        assert (
            summary["best_step"] == val["step"][val["nll"].idxmin()]
            and summary["best_val_nll"] == val["nll"].min()
        )
        evaluated = json.loads((tmp_path / f"metrics/evaluate/{name}.json").read_text())
        # the kept checkpoint is the best
        assert evaluated["val"]["nll"] == pytest.approx(summary["best_val_nll"], abs=1e-6)
        assert json.loads((tmp_path / f"metrics/time/{name}.json").read_text())["train_seconds"] > 0
        assert len((tmp_path / f"data/samples/{name}.txt").read_text().splitlines()) == 50
