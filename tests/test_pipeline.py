"""The pipeline driven by the real `dvc` in a temporary git copy of the project."""

import json
import math

import yaml

from helpers import ROOT, copy_project, default_words, word_bigrams

ALL_STAGES = {
    "prepare", "bigrams", "count", "plot_counts", "train", "plot_nn",
    "evaluate@count", "evaluate@nn", "sample@count", "sample@nn",
}  # fmt: skip
COUNT_BRANCH = {  # the files a change of count.smoothing may change
    "data/models/count.pt", "metrics/evaluate/count.json",
    "data/samples/count.txt", "metrics/sample/count.json", "metrics/sample/count_lengths.csv",
}  # fmt: skip


def metrics_shown(project):
    """What `dvc metrics show --json` parsed from the workspace, by file."""
    (workspace,) = json.loads(project.dvc("metrics", "show", "--json").stdout).values()
    return {path: entry["data"] for path, entry in workspace["data"].items()}


def read_json(project, path):
    return json.loads((project.path / path).read_text())


def split_words(project, split):
    return (project.path / f"data/prepared/{split}.txt").read_text(encoding="utf-8").split("\n")[:-1]


def test_full_run_writes_every_output_and_honest_metrics(project):
    assert "Data and pipelines are up to date" in project.dvc("status").stdout
    shown = metrics_shown(project)
    for model in ("count", "nn"):
        metrics = shown[f"metrics/evaluate/{model}.json"]
        for split in ("train", "val", "test"):
            words = split_words(project, split)
            # every word of n characters has n + 1 bigrams
            assert metrics[split]["bigrams"] == sum(len(w) + 1 for w in words)
            assert 1.5 < metrics[split]["nll"] < math.log(27)
            assert metrics[split]["perplexity"] == round(math.exp(metrics[split]["nll"]), 4)
        samples = (project.path / f"data/samples/{model}.txt").read_text().split("\n")[:-1]
        params = yaml.safe_load((project.path / "params.yaml").read_text())
        assert len(samples) == params["sample"]["num"]
    # the count model is fitted on train: it must do better there than on held-out words
    count = shown["metrics/evaluate/count.json"]
    assert count["train"]["nll"] < count["val"]["nll"]
    assert sorted(sum((split_words(project, s) for s in ("train", "val", "test")), [])) == sorted(
        (project.path / "data/names.txt").read_text().split()
    )
    assert (project.path / "metrics/count_grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_smoothing_reruns_only_the_count_branch_and_setting_it_back_uses_the_run_cache(project):
    before = project.outputs()
    project.set_params(count__smoothing=0.5)
    assert set(project.repro()) == {"count", "evaluate@count", "sample@count"}
    changed = {path for path, digest in project.outputs().items() if before[path] != digest}
    assert {"data/models/count.pt", "metrics/evaluate/count.json"} <= changed
    assert changed <= COUNT_BRANCH

    project.set_params(count__smoothing=1)
    assert project.repro() == []
    assert "Stage 'count' is cached" in project.last.stdout
    assert project.outputs() == before


def test_learning_rate_reruns_only_the_nn_branch_and_setting_it_back_uses_the_run_cache(project):
    before = project.outputs()
    project.set_params(train__lr=10)
    assert set(project.repro()) == {"train", "plot_nn", "evaluate@nn", "sample@nn"}
    changed = {path for path, digest in project.outputs().items() if before[path] != digest}
    assert {"data/models/nn.pt", "metrics/evaluate/nn.json", "metrics/train/loss.csv"} <= changed
    assert not changed & COUNT_BRANCH

    project.set_params(train__lr=50)
    assert project.repro() == []
    assert project.outputs() == before


def test_forced_rerun_is_byte_identical(project):
    before, lock = project.outputs(), (project.path / "dvc.lock").read_text()
    assert set(project.repro("--force")) == ALL_STAGES
    assert project.outputs() == before
    assert (project.path / "dvc.lock").read_text() == lock


def test_own_data_file_is_one_param_away_and_tracked(project):
    words = ["st.john", "zoë", "mary ann", "o'neil", "björk", "ana", "anna", "léa", "noé", "zoé", "li"]
    (project.path / "data/other.txt").write_text("\n".join(words * 3) + "\n", encoding="utf-8")
    project.set_params(data__path="data/other.txt", split__train=0.6, split__val=0.2, split__test=0.2)
    assert set(project.repro()) == ALL_STAGES
    lock = yaml.safe_load((project.path / "dvc.lock").read_text())
    assert "data/other.txt" in [dep["path"] for dep in lock["stages"]["prepare"]["deps"]]
    vocab = read_json(project, "data/prepared/vocab.json")
    assert vocab["chars"] == sorted(set("".join(words)))
    assert vocab["boundary"] not in vocab["chars"]

    (project.path / "data/other.txt").write_text("\n".join(words * 4) + "\n", encoding="utf-8")
    status = json.loads(project.dvc("status", "--json").stdout)
    assert {"changed deps": {"data/other.txt": "modified"}} in status["prepare"]


def test_zero_probability_bigrams_give_inf_in_valid_json(project):
    project.set_params(count__smoothing=0)
    project.repro()
    seen = {pair for word in split_words(project, "train") for pair in word_bigrams(word)}
    unseen = sum(pair not in seen for word in split_words(project, "val") for pair in word_bigrams(word))
    assert unseen > 0, "the small data set should have val bigrams never seen in train"

    val = read_json(project, "metrics/evaluate/count.json")["val"]  # json.loads rejects Infinity and NaN
    assert val["nll"] == "inf" and val["perplexity"] == "inf"
    assert val["zero_probability_bigrams"] == unseen
    assert metrics_shown(project)["metrics/evaluate/count.json"]["val"]["nll"] == "inf"
    assert isinstance(read_json(project, "metrics/evaluate/count.json")["train"]["nll"], float)


def test_a_bad_param_fails_in_one_line_and_loses_nothing(project):
    before = project.outputs()
    project.set_params(count__smoothing=-1)
    project.repro(check=False)
    assert project.last.returncode != 0
    errors = [line for line in project.last.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: params.yaml: count.smoothing = -1 is invalid: input should be greater than or equal to 0"]

    project.set_params(count__smoothing=1)
    assert project.repro() == []
    assert project.outputs() == before


def test_a_misspelt_key_reruns_its_stage_and_is_refused(project):
    params = yaml.safe_load((project.path / "params.yaml").read_text())
    params["count"]["smothing"] = 0.5
    (project.path / "params.yaml").write_text(yaml.safe_dump(params))
    project.repro(check=False)
    assert project.last.returncode != 0
    assert "error: params.yaml: unknown key 'count.smothing' (did you mean 'smoothing'?)" in project.last.stderr


def test_committed_metrics_and_lock_are_what_the_default_data_reproduces(tmp_path):
    project = copy_project(tmp_path, words=None)
    assert default_words() == (project.path / "data/names.txt").read_text().split()
    project.repro()
    committed = sorted(p.relative_to(ROOT) for p in (ROOT / "metrics").rglob("*") if p.is_file())
    assert committed == sorted(p.relative_to(project.path) for p in (project.path / "metrics").rglob("*") if p.is_file())
    for path in committed:
        assert (project.path / path).read_bytes() == (ROOT / path).read_bytes(), f"{path} differs"
    assert (project.path / "dvc.lock").read_text() == (ROOT / "dvc.lock").read_text()
