"""Tuning through real DVC experiments, the makemore CLI, and the data behind the plots.

The CLI runs in this process through `makemore.cli.main`; one test runs the installed `makemore` command
for what only a real process shows (a closed pipe).
"""

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from helpers import BIN, Project, additive_nll, call, commit_all, curve_files, keep_models, word_bigrams

from makemore import cli, tune
from makemore.api import Project as ApiProject
from makemore.evaluate import bigram_table
from makemore.models import FAMILIES, instance_config
from makemore.models.contexts import Positions, SplitFile
from makemore.models.files import load_instance, load_model, save_model
from makemore.models.interface import FitData
from makemore.params import load_params
from makemore.tune import DEFAULT_SWEEPS
from makemore.vocab import load_vocab


def words_of(project: Project, path: str) -> list[str]:
    return (project.path / path).read_text(encoding="utf-8").split("\n")[:-1]


def makemore(project: Project, *args: str, check: bool = True, cwd=None):
    result = call(lambda: cli.main(list(args)), cwd or project.path)
    assert result.returncode == 0 or not check, result.stderr
    return result


def vocab_size(project: Project) -> int:
    return len(json.loads((project.path / "data/prepared/vocab.json").read_text())["chars"]) + 1


# --- tuning ---------------------------------------------------------------------------------------


def test_tune_refuses_a_data_file_that_neither_git_nor_dvc_tracks(project):
    (project.path / "data/loose.txt").write_text("emma\nava\n")
    project.set_params(data__path="data/loose.txt")
    refused = call(lambda: tune.main(["--sweep", "models.count.k", "1"]), project.path)
    assert (refused.returncode, refused.stderr) == (
        1,
        "error: data.path = data/loose.txt is tracked by neither git nor DVC, so the "
        "experiments cannot see it: run `dvc add data/loose.txt` and commit data/loose.txt.dvc first\n",
    )
    assert project.dvc("queue", "status").stdout.count("Queued") == 0


def test_tune_on_a_users_own_dvc_tracked_file_chooses_on_val_replaces_its_own_experiments_and_keeps_the_rest(
    project,
):
    # The user's file holds the default words, so that only `prepare` reruns for it and every experiment
    # restores what is off its branch from the run-cache: the test is that DVC finds the file, not its words.
    own_words = (project.path / "data/names.txt").read_text()
    (project.path / "data/mine.txt").write_text(own_words)
    # the README's way: dvc add, point data.path at it, reproduce and commit (make tune reproduces first)
    project.dvc("add", "data/mine.txt")
    # the lecture's two models only: every experiment restores the branches it does not change, which takes time
    keep_models(project.path, ["count", "nn"])
    project.set_params(data__path="data/mine.txt")
    # compare reruns too, since it now compares two models
    assert project.repro() == ["prepare", "compare"]
    lock = yaml.safe_load((project.path / "dvc.lock").read_text())
    assert "data/mine.txt" in [dep["path"] for dep in lock["stages"]["prepare"]["deps"]]
    commit_all(project, "my own words")
    assert "data/mine.txt" not in project.git("ls-files").split()  # in DVC's cache, not in git
    project.dvc("exp", "save", "--name", "mine")  # an experiment of the user's own, which tune must keep
    # one an earlier `make tune` left, which it must replace
    project.dvc("exp", "save", "--name", "tune-nn-reg-3")
    best_before = json.loads((project.path / "tuning/best.json").read_text())  # the committed choices
    params_before = (project.path / "params.yaml").read_text()
    outputs_before = project.outputs()
    ks = [0, 0.5, 5]  # 0.5 is best: neither the first, the last, the smallest nor the largest

    # and an experiment that fails (the net's loss diverges): it keeps its baseline's metrics, which must not count
    tuned = call(
        lambda: tune.main(["--sweep", "models.count.k", *map(str, ks), "--sweep", "models.nn.lr", "1e30"]),
        project.path,
    )
    assert tuned.returncode == 1
    assert tuned.stderr.splitlines()[-1] == (
        "error: 1 experiment(s) failed, so neither chosen nor written: tune-nn-lr-1e+30 "
        "(their logs: dvc queue logs tune-nn-lr-1e+30)"
    )
    assert "best models.nn.lr" not in tuned.stdout and not (project.path / "tuning/sweeps/nn.lr.csv").exists()

    train, val, test = (words_of(project, f"data/prepared/{split}.txt") for split in ("train", "val", "test"))
    size = vocab_size(project)
    expected_val = {k: additive_nll(train, val, 2, k, size) for k in ks}
    table = pd.read_csv(project.path / "tuning/sweeps/count.k.csv")
    assert table["value"].tolist() == ks
    for k, val_nll in zip(table["value"], table["val"]):  # each experiment really ran with its own value
        assert val_nll == pytest.approx(expected_val[k], abs=1e-5)
    assert math.isinf(expected_val[0])  # some val bigrams never occur in train
    best = min(ks, key=expected_val.get)
    chosen = json.loads((project.path / "tuning/best.json").read_text())
    assert (
        chosen["models.count.k"]["value"] == best and chosen["models.count.k"]["data.path"] == "data/mine.txt"
    )
    assert chosen["models.count.k"]["test_nll"] == pytest.approx(
        additive_nll(train, test, 2, best, size), abs=1e-5
    )
    # not swept or failed: kept
    assert {param: choice for param, choice in chosen.items() if param != "models.count.k"} == best_before
    assert f"best models.count.k = {best} on val" in tuned.stdout
    assert "| Experiment" in tuned.stdout and "tune-count-k-0.5" in tuned.stdout  # the dvc exp show table

    assert (project.path / "params.yaml").read_text() == params_before
    assert project.outputs() == outputs_before
    names = set(project.dvc("exp", "list", "--name-only").stdout.split())
    # a failed one is in the queue's log only
    assert names == {"mine", "tune-count-k-0", "tune-count-k-0.5", "tune-count-k-5"}
    for ref in project.git("for-each-ref", "--format=%(refname)", "refs/exps").split():
        files = project.git("ls-tree", "-r", "--name-only", ref).split()
        assert "data/mine.txt.dvc" in files and "data/mine.txt" not in files  # DVC's pointer, never the words

    (project.path / "data/mine.txt").write_text(own_words + "extra\n")  # DVC sees an edit of the user's file
    assert "modified:           data/mine.txt" in project.dvc("status").stdout


def trainings(project: Project) -> list[int]:
    """The processes that run a train stage in the project's folder or below (DVC runs queued experiments there)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if b"stages.train" in (proc / "cmdline").read_bytes() and Path(
                os.readlink(proc / "cwd")
            ).is_relative_to(project.path):
                found.append(int(proc.name))
        except OSError:  # it ended meanwhile
            pass
    return found


def wait_for(condition, timeout: float = 120) -> bool:
    """Whether `condition()` becomes true within `timeout` seconds: a bound on a wait for an event, not a timing."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.2)
    return condition()


@pytest.mark.long
def test_ctrl_c_on_tune_stops_the_experiments_it_queued(project):
    keep_models(project.path, ["count", "nn"])
    project.set_params(models__nn__steps=10**9)  # trains until stopped
    commit_all(project, "a net that trains until stopped")
    # Ctrl-C on a terminal interrupts the foreground process group: `make tune`'s, here the new session's
    sweep = [sys.executable, "-m", "makemore.tune", "--sweep", "models.nn.seed", "1", "2", "--jobs", "1"]
    tuning = subprocess.Popen(
        sweep,
        cwd=project.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert wait_for(lambda: trainings(project)), "an experiment starts training"
    os.killpg(tuning.pid, signal.SIGINT)
    _, err = tuning.communicate(timeout=300)
    assert tuning.returncode != 0 and err.splitlines()[-1] == "interrupted"
    assert wait_for(lambda: not trainings(project)), "no experiment trains on in the background"
    status = project.dvc("queue", "status").stdout
    assert "Running" not in status and "Queued" not in status, status


@pytest.mark.parametrize(
    ("text", "value"),
    [("1e-3", 0.001), ("1.0e-3", 0.001), ("3", 3), ("[0.5, 1, 1.5]", [0.5, 1, 1.5]), ("null", None)],
)
def test_a_sweep_value_is_read_as_yaml_and_a_number_without_a_dot_is_a_number(text, value):
    assert tune.sweep_value("models.trigram.k", text) == value


# --- the CLI ----------------------------------------------------------------------------------------


def score_rows(output: str, models: list[str]) -> list[dict[str, str]]:
    """The table of the first word `makemore score` printed for `models`, as rows of column -> text."""
    lines = output.split("\n\n")[0].splitlines()[1:]
    columns = ["token", *(f"{name} {value}" for name in models for value in ("p", "log p"))]
    assert lines[0].split() == " ".join(columns).split()
    return [dict(zip(columns, line.split())) for line in lines[1:]]


def probability_table(project: Project, name: str) -> torch.Tensor:
    """P[a, b] of a bigram model, through the model interface."""
    vocab = load_vocab(project.path / "data/prepared/vocab.json")
    return bigram_table(load_model(project.path / f"data/models/{name}.pt", vocab, name))


def test_score_shows_each_tokens_probability_under_every_model(project):
    word = words_of(project, "data/prepared/val.txt")[0]
    result = makemore(project, "score", word)
    models = list(load_params(project.path / "params.yaml").instances)
    train, size = words_of(project, "data/prepared/train.txt"), vocab_size(project)
    rows = score_rows(result.stdout, models)
    # the mixture's probability: its models' combined with the weights its train stage logged
    weights = json.loads((project.path / "metrics/train/mixture/metrics.json").read_text())["weights"]
    assert load_params(project.path / "params.yaml").mixtures["mixture"]["combine"] == "log_linear"
    # the weighted product of each model's whole distribution after each context, normalised
    vocab = load_vocab(project.path / "data/prepared/vocab.json")
    positions = Positions.of(vocab, [word])
    product = 0
    for name, weight in weights.items():
        model = load_instance(name, vocab, project.path)
        contexts = positions.contexts(model.context_length, torch.arange(len(positions)))
        product = product + weight * model.log_probs(contexts).double()
    expected = product.softmax(1)[torch.arange(len(positions)), positions.targets.long()].tolist()
    for row, mixed in zip(rows, expected, strict=True):
        assert float(row["mixture p"]) == pytest.approx(mixed, abs=1e-4)
    assert len(rows) == len(word) + 1 and [row["token"] for row in rows] == [*word, "."]
    nn = torch.load(project.path / "data/models/nn.pt", weights_only=True)
    assert nn["W"].shape == (size, size)  # every character was seen as a context: row a is W's row for a
    vocab = json.loads((project.path / "data/prepared/vocab.json").read_text())
    index = {c: i + 1 for i, c in enumerate(vocab["chars"])} | {"<b>": 0}
    k = yaml.safe_load((project.path / "params.yaml").read_text())["models"]["trigram"]["k"]
    for row, (a, b) in zip(rows, word_bigrams(word)):
        pairs = sum(1 for w in train for pair in word_bigrams(w) if pair == (a, b))
        context = sum(1 for w in train for pair in word_bigrams(w) if pair[0] == a)
        assert float(row["count p"]) == pytest.approx((pairs + 1) / (context + size), abs=1e-4)
        assert float(row["count log p"]) == pytest.approx(math.log(float(row["count p"])), abs=2e-3)
        assert float(row["nn p"]) == pytest.approx(
            torch.softmax(nn["W"][index[a]], 0)[index[b]].item(), abs=1e-4
        )
    # the word's mean NLL per token, by Python counters
    for name, order, smoothing in (("count", 2, 1), ("trigram", 3, k)):
        mean = re.search(rf"\b{name} ([\d.]+)", result.stdout.splitlines()[0])
        assert float(mean[1]) == pytest.approx(additive_nll(train, [word], order, smoothing, size), abs=1e-4)


def test_score_and_sample_take_one_model(project):
    result = makemore(project, "score", "emma", "--model", "kneser_ney")
    assert list(score_rows(result.stdout, ["kneser_ney"])[0]) == ["token", "kneser_ney p", "kneser_ney log p"]
    refused = makemore(project, "score", "emma", "--model", "gpt", check=False)
    assert refused.stderr.splitlines() == [
        "error: --model gpt: no such model in params.yaml (its models: count, nn, trigram, trigram_nn, kneser_ney, mixture)"
    ]
    seed = str(yaml.safe_load((project.path / "params.yaml").read_text())["sample"]["seed"])
    sampled = makemore(project, "sample", "--model", "kneser_ney", "--num", "1000", "--seed", seed).stdout
    assert sampled == (project.path / "data/samples/kneser_ney.txt").read_text()


def test_models_lists_every_model_with_its_family_and_val_nll_best_first(project):
    listed = makemore(project, "models").stdout.splitlines()
    models = load_params(project.path / "params.yaml").instances
    val = {
        name: json.loads((project.path / f"metrics/evaluate/{name}.json").read_text())["val"]["nll"]
        for name in models
    }
    compared = json.loads((project.path / "metrics/compare.json").read_text())["models"]
    assert listed[0].split() == ["model", "family", "params", "val", "NLL", "val", "vs", "best", "[interval]"]
    rows = [
        re.fullmatch(r" *(\S+) +(\S+) .* (\S+) +(best|(\S+) \[(\S+), (\S+)\]( tie)?)", line)
        for line in listed[1:]
    ]
    assert [row[1] for row in rows] == sorted(models, key=val.get)
    for row in rows:
        name, family, nll, versus, difference, low, high, tie = row.groups()
        assert family == models[name]["family"] and float(nll) == val[name]
        if versus == "best":
            assert val[name] == min(val.values())
        else:  # as metrics/compare.json has it, to the 5 decimals shown
            shown = [float(difference), float(low), float(high)]
            assert shown == pytest.approx(
                [compared[name][key] for key in ("difference", "low", "high")], abs=6e-6
            )
            assert float(low) <= float(difference) <= float(high)
            assert (tie is not None) == (float(low) <= 0 <= float(high))


def test_after_editing_params_without_repro_the_cli_refuses_the_old_model_and_lists_it_as_stale(project):
    project.set_params(models__count__k=0.5)
    stale = "trained with other params than models.count in params.yaml (k: 0.5 now, 1.0 in the model): run `dvc repro`"
    for command in (["score", "--model", "count", "emma"], ["sample", "--model", "count"]):
        refused = makemore(project, *command, check=False)
        assert (refused.returncode, refused.stderr) == (1, f"error: data/models/count.pt: {stale}\n")
    (row,) = [line for line in makemore(project, "models").stdout.splitlines() if line.split()[0] == "count"]
    assert re.search(re.escape(f"stale: {stale}") + r" +-$", row)  # and no comparison


def test_a_model_file_that_is_not_the_one_its_metrics_measured_has_no_metrics_shown(project):
    # a count model with the same params, fitted on other words (the val split), copied over the project's
    vocab, config = (
        load_vocab(project.path / "data/prepared/vocab.json"),
        instance_config("count", project.path / "params.yaml"),
    )
    other_words = SplitFile(vocab, project.path / "data/prepared/val.txt")
    other = FAMILIES["ngram"].fit(config, FitData(vocab, other_words, other_words, max_len=50)).model
    save_model(project.path / "data/models/count.pt", other, "count")
    stale = (
        "stale: data/models/count.pt is not the file metrics/evaluate/count.json measured: run `dvc repro`"
    )
    (row,) = [line for line in makemore(project, "models").stdout.splitlines() if line.split()[0] == "count"]
    assert re.search(re.escape(stale) + r" +-$", row)  # and no comparison
    board = ApiProject(project.path).leaderboard().set_index("model")
    assert board.loc["count", "status"] == stale and board.loc["count", ["train", "val", "test"]].isna().all()
    assert board.loc["count", ["vs_best", "low", "high", "verdict"]].isna().all()
    assert (board.drop(index="count")["status"] == "ok").all()
    project.dvc("repro")  # the model of its params and data again, and its metrics of it
    assert ApiProject(project.path).leaderboard().set_index("model").loc["count", "status"] == "ok"


@pytest.mark.long
def test_k_0_gives_inf_in_valid_json_and_score_shows_the_zero_probability_token(project):
    project.set_params(models__count__k=0)
    assert set(project.repro()) == {"train@count", "evaluate@count", "sample@count", "compare"}
    train = words_of(project, "data/prepared/train.txt")
    seen = {pair for w in train for pair in word_bigrams(w)}
    unseen = sum(
        pair not in seen for word in words_of(project, "data/prepared/val.txt") for pair in word_bigrams(word)
    )
    assert unseen > 0, "the default data has val bigrams never seen in train"
    # json.loads rejects Infinity and NaN
    metrics = json.loads((project.path / "metrics/evaluate/count.json").read_text())
    assert metrics["val"]["nll"] == "inf" and metrics["val"]["perplexity"] == "inf"
    assert metrics["val"]["zero_probability_tokens"] == unseen
    assert isinstance(metrics["train"]["nll"], float)
    (workspace,) = json.loads(project.dvc("metrics", "show", "--json").stdout).values()
    assert workspace["data"]["metrics/evaluate/count.json"]["data"]["val"]["nll"] == "inf"

    word = next(
        w for w in words_of(project, "data/prepared/val.txt") if any(p not in seen for p in word_bigrams(w))
    )
    result = makemore(project, "score", word, "--model", "count")
    assert "nan" not in result.stdout.lower()
    assert re.search(r"mean NLL per token: count inf\)", result.stdout)
    unseen = [
        row for row, pair in zip(score_rows(result.stdout, ["count"]), word_bigrams(word)) if pair not in seen
    ]
    assert unseen and all(row["count p"] == "0.0000" and row["count log p"] == "-inf" for row in unseen)


def test_score_names_a_character_outside_the_vocabulary(project):
    result = makemore(project, "score", "emma", "Zoë", check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: cannot score 'Zoë': character 'Z' is not in the vocabulary (data/prepared/vocab.json)"
    ]


def test_score_refuses_a_control_character_that_would_split_the_word(project):
    result = makemore(project, "score", "a\nb", check=False)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == ["error: cannot score 'a\\nb': control character U+000A at column 2"]
    empty = makemore(project, "score", "", check=False)
    assert (empty.returncode, empty.stdout, empty.stderr) == (
        1,
        "",
        "error: cannot score '': a word has at least one character\n",
    )


def test_missing_artifacts_say_which_command_makes_them(project):
    (project.path / "data/prepared/vocab.json").unlink()
    result = makemore(project, "sample", check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: data/prepared/vocab.json: no such file (run `dvc repro` to make it)"
    ]


def test_the_cli_finds_the_project_from_a_subfolder_and_names_a_folder_outside_one(project, tmp_path):
    from_root = makemore(project, "sample", "--num", "3").stdout
    assert makemore(project, "sample", "--num", "3", cwd=project.path / "data/prepared").stdout == from_root
    result = makemore(project, "sample", check=False, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: {tmp_path} is not inside a makemore project (no dvc.yaml and params.yaml here or above): run makemore from the project's folder"
    ]


def test_sampling_into_a_pipe_that_closes_stops_quietly(project):
    sampler = subprocess.Popen(
        [str(BIN / "makemore"), "sample", "--num", "1000000"],
        cwd=project.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first = sampler.stdout.readline()  # what `| head -1` reads before it closes the pipe
    sampler.stdout.close()
    assert sampler.wait(timeout=60) == 141  # 128 + SIGPIPE, as `yes | head -1` gives
    assert first.strip() and sampler.stderr.read() == b""


def test_cli_sample_with_the_pipelines_seed_gives_the_pipelines_samples(project):
    seed = str(yaml.safe_load((project.path / "params.yaml").read_text())["sample"]["seed"])
    for model in yaml.safe_load((project.path / "params.yaml").read_text())["models"]:
        result = makemore(project, "sample", "--model", model, "--num", "1000", "--seed", seed)
        assert result.stdout == (project.path / f"data/samples/{model}.txt").read_text()
    assert (
        makemore(project, "sample", "--seed", "1").stdout != makemore(project, "sample", "--seed", "2").stdout
    )


def greedy_word(probs: torch.Tensor, max_len: int = 50) -> list[int]:
    """The most likely next index at every step, from the boundary until the boundary comes back."""
    ids, ix = [], 0
    while len(ids) < max_len:
        ix = probs[ix].argmax().item()
        if ix == 0:
            break
        ids.append(ix)
    return ids


def test_cold_temperature_gives_the_greedy_word_and_top_k_limits_the_choices(project):
    vocab = json.loads((project.path / "data/prepared/vocab.json").read_text())
    labels = [vocab["boundary"], *vocab["chars"]]
    probs = probability_table(project, "count")
    greedy = "".join(labels[i] for i in greedy_word(probs))
    assert makemore(project, "sample", "--temperature", "0.001", "--num", "5").stdout == f"{greedy}\n" * 5

    index = {c: i for i, c in enumerate(labels)}
    # ties with the 3rd are kept
    kept = [[p >= sorted(row, reverse=True)[2] for p in row] for row in probs.tolist()]
    for word in makemore(project, "sample", "--top-k", "3", "--num", "200").stdout.split("\n")[:-1]:
        ids = [0, *(index[c] for c in word), 0]
        assert all(kept[a][b] for a, b in zip(ids, ids[1:]))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--num", "0"], "argument --num: 0 is invalid: input should be greater than or equal to 1"),
        (["--temperature", "0"], "argument --temperature: 0 is invalid: input should be greater than 0"),
        (["--temperature", "nan"], "argument --temperature: nan is invalid: input should be a finite number"),
        (["--top-k", "-2"], "argument --top-k: -2 is invalid: input should be greater than or equal to 1"),
        (
            ["--seed", str(2**70)],
            f"argument --seed: {2**70} is invalid: input should be less than or equal to {2**64 - 1}",
        ),
        (["--seed", "-1"], "argument --seed: -1 is invalid: input should be greater than or equal to 0"),
        (
            ["--max-len", "1001"],
            "argument --max-len: 1001 is invalid: input should be less than or equal to 1000",
        ),
        (["--num", "many"], "argument --num: many is invalid: input should be a valid integer"),
        (["--num", "2.5"], "argument --num: 2.5 is invalid: input should be a valid integer"),
    ],
)
def test_bad_sample_options_are_named(tmp_path, args, message):
    result = call(lambda: cli.main(["sample", *args]), tmp_path)  # refused before any file is read
    assert result.returncode == 2
    assert message in result.stderr.splitlines()[-1]


def test_every_subcommand_has_help(tmp_path):
    for command, options in (
        ("score", ["WORD", "--model"]),
        ("sample", ["--model", "--num", "--seed", "--temperature", "--top-k"]),
        ("models", ["val NLL"]),
    ):
        result = call(lambda command=command: cli.main([command, "--help"]), tmp_path)
        assert all(option in result.stdout for option in options)


# --- the pipeline's sampling params and plots ------------------------------------------------------


def test_sampling_params_rerun_only_the_sample_stages(project):
    keep_models(project.path, ["count", "nn"])  # fewer stages to run, same test
    project.set_params(sample__top_k=1)
    # and compare, for the fewer models it compares
    assert set(project.repro()) == {"sample@count", "sample@nn", "compare"}
    vocab = json.loads((project.path / "data/prepared/vocab.json").read_text())
    for model in ("count", "nn"):
        probs = probability_table(project, model)
        greedy = "".join(vocab["chars"][i - 1] for i in greedy_word(probs))
        assert set(words_of(project, f"data/samples/{model}.txt")) == {greedy}  # top_k 1 is greedy


def curve(project, name: str) -> pd.DataFrame:
    """The model's DVCLive history (metrics/train/NAME/plots/metrics/COLUMN/nll.tsv), a column per file, by step."""
    folder = project.path / f"metrics/train/{name}/plots/metrics"
    return pd.DataFrame(
        {
            tsv.parent.name: pd.read_csv(tsv, sep="\t").set_index("step")["nll"]
            for tsv in folder.glob("*/nll.tsv")
        }
    )


def test_every_plot_is_declared_and_its_data_is_right(project):
    shown = json.loads(project.dvc("plots", "show", "--json").stdout)["data"]
    models = yaml.safe_load((project.path / "params.yaml").read_text())["models"]
    instances = load_params(project.path / "params.yaml").instances  # and the mixtures
    # the committed sweeps
    tuned = {str(path.relative_to(project.path)) for path in (project.path / "tuning/sweeps").glob("*.csv")}
    assert {f"tuning/sweeps/{param.removeprefix('models.')}.csv" for param in DEFAULT_SWEEPS} <= tuned
    assert set(shown) == {
        "metrics/count_grid.png",
        "metrics/nn_grid.png",
        "metrics/nn_minus_count_grid.png",
        *(path for name in instances for path in curve_files(project.path, name)),
        *(f"metrics/sample/{name}_lengths.csv" for name in instances),
        *tuned,
    }
    assert curve_files(project.path, "mixture") == ["metrics/train/mixture/plots/metrics/val/nll.tsv"]
    for name in models:  # every model logs its train and val curves, whatever else its family adds
        assert {f"metrics/train/{name}/plots/metrics/{split}/nll.tsv" for split in ("train", "val")} <= set(
            shown
        )
    for path in ("metrics/count_grid.png", "metrics/nn_grid.png", "metrics/nn_minus_count_grid.png"):
        assert (project.path / path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    train = words_of(project, "data/prepared/train.txt")
    size = vocab_size(project)
    loss = curve(project, "nn")
    assert loss.index.tolist() == list(range(models["nn"]["steps"] + 1))
    assert loss["optimum"].unique() == pytest.approx([additive_nll(train, train, 2, 0, size)], abs=1e-6)
    assert (loss["train"] > loss["optimum"]).all()  # nothing beats maximum likelihood on its own data
    counted = curve(project, "trigram")  # counting is one step
    assert counted.index.tolist() == [0]
    assert counted["optimum"][0] == pytest.approx(additive_nll(train, train, 3, 0, size), abs=1e-6)
    assert counted["train"][0] == pytest.approx(
        additive_nll(train, train, 3, models["trigram"]["k"], size), abs=1e-6
    )
    # what `dvc exp show` shows
    summary = json.loads((project.path / "metrics/train/nn/metrics.json").read_text())
    assert summary["step"] == models["nn"]["steps"] and summary["train"]["nll"] == loss["train"].iloc[-1]

    for model in ("count", "nn"):
        lengths = pd.read_csv(project.path / f"metrics/sample/{model}_lengths.csv").set_index("length")
        samples = words_of(project, f"data/samples/{model}.txt")
        for length, row in lengths.iterrows():
            assert row["sampled"] == pytest.approx(
                sum(len(w) == length for w in samples) / len(samples), abs=1e-6
            )
            assert row["train"] == pytest.approx(sum(len(w) == length for w in train) / len(train), abs=1e-6)
        assert lengths["sampled"].sum() == pytest.approx(1) and lengths["train"].sum() == pytest.approx(1)
