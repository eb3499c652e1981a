"""The mixture family: a weighted sum (or a weighted product) of trained models' next-token distributions, its weights
fitted on val."""

import json
import math
import shutil

import pytest
import torch
from helpers import ROOT, default_words, set_params, stage_in_process

from makemore import MakemoreError, ParamError
from makemore.evaluate import score
from makemore.models import FAMILIES, instance_config
from makemore.models.contexts import Positions
from makemore.models.files import load_model, save_model
from makemore.models.interface import FitData
from makemore.models.mixture import Mixture, MixtureConfig, check_memory, em_weights, log_linear_weights
from makemore.models.ngram import NGramConfig
from makemore.models.steps import machine_memory
from makemore.params import load_params
from makemore.sampling import generate
from makemore.vocab import Vocabulary

MAX_LEN = 50


@pytest.fixture(scope="module")
def fitted():
    """A bigram and a Kneser-Ney 4-gram fitted on 2,000 names, mixed with weights fitted on 500 others."""
    words = default_words()
    train, val, test = words[:2000], words[2000:2500], words[2500:3000]
    vocab = Vocabulary.from_words(words[:3000])
    configs = {
        "bigram": NGramConfig(family="ngram", order=2, smoothing="additive", k=1.0),
        "fourgram": NGramConfig(family="ngram", order=4, smoothing="kneser_ney"),
    }
    data = FitData(vocab, Positions.of(vocab, train), Positions.of(vocab, val), MAX_LEN)
    trained = {name: FAMILIES["ngram"].fit(config, data).model for name, config in configs.items()}
    config = MixtureConfig(family="mixture", of=list(trained))
    training = Mixture.fit(config, FitData(vocab, data.train, data.val, MAX_LEN, trained=trained))
    return vocab, trained, training, data.val, Positions.of(vocab, test)


def test_a_mixture_is_the_weighted_sum_of_its_models_distributions_and_round_trips(fitted, tmp_path):
    vocab, trained, training, _, test = fitted
    mixture, (bigram, fourgram) = training.model, trained.values()
    weights = training.model.weights
    assert weights.dtype == torch.float64 and weights.sum().item() == pytest.approx(1, abs=1e-12)
    assert mixture.context_length == 3
    # each model given the last tokens of the mixture's contexts that it reads, and their probabilities summed
    contexts = test.contexts(3, torch.arange(len(test)))
    expected = (
        weights[0] * bigram.log_probs(contexts[:, 2:]).double().exp()
        + weights[1] * fourgram.log_probs(contexts).double().exp()
    )
    probs = mixture.log_probs(contexts).double().exp()
    assert torch.allclose(probs, expected, atol=1e-6)
    assert torch.allclose(probs.sum(1), torch.ones(len(contexts), dtype=torch.float64), atol=1e-5)
    of_targets = mixture.log_probs_of(contexts, test.targets).double().exp()
    assert torch.allclose(of_targets, expected[torch.arange(len(test)), test.targets], atol=1e-6)

    save_model(tmp_path / "mixture.pt", mixture, "mixture")
    loaded = load_model(tmp_path / "mixture.pt", vocab, "mixture")
    assert torch.equal(loaded.weights, weights)
    assert torch.equal(loaded.log_probs(contexts), mixture.log_probs(contexts))
    nll = -expected[torch.arange(len(test)), test.targets].log().mean().item()
    assert score(loaded, test)["nll"] == pytest.approx(nll, abs=1e-6)
    words = [vocab.decode(ids) for ids in generate(loaded, 20, seed=1, max_len=20)]
    assert len(words) == 20 and words == [
        vocab.decode(ids) for ids in generate(mixture, 20, seed=1, max_len=20)
    ]


def test_the_mixture_beats_each_of_its_models_on_val_and_its_curve_falls(fitted):
    _, trained, training, val, _ = fitted
    curve = [row["val"] for row in training.curve]
    assert all(later <= earlier + 1e-12 for earlier, later in zip(curve, curve[1:]))
    assert training.summary["weights"].keys() == trained.keys()
    assert curve[-1] == pytest.approx(score(training.model, val)["nll"], abs=1e-6)
    assert curve[-1] < min(score(model, val)["nll"] for model in trained.values())


def test_em_finds_the_weights_of_the_lowest_nll_a_grid_search_finds():
    generator = torch.Generator().manual_seed(0)
    # two models' log p at 2,000 positions: each better at some of them
    log_p = torch.rand(2, 2000, generator=generator, dtype=torch.float64).log()
    weights, nlls = em_weights(log_p, iterations=10_000)
    grid = torch.linspace(0, 1, 10_001, dtype=torch.float64)
    nll_of = -(grid.unsqueeze(1) * log_p[0].exp() + (1 - grid.unsqueeze(1)) * log_p[1].exp()).log().mean(1)
    best = nll_of.argmin()
    assert weights[0].item() == pytest.approx(grid[best].item(), abs=2e-4)
    # EM stops once a step gains under 1e-9 nats, short of the optimum by a few such steps
    assert nlls[-1] == pytest.approx(nll_of[best].item(), abs=1e-7)
    assert nlls[0] == pytest.approx(nll_of[5_000].item(), abs=1e-12)  # EM starts from equal weights


def test_em_fits_on_the_positions_some_model_can_give_and_reports_the_infinite_nll_of_all():
    log_p = torch.tensor([[-1.0, -2.0, -torch.inf], [-2.0, -1.0, -torch.inf]], dtype=torch.float64)
    weights, nlls = em_weights(log_p, iterations=100)
    assert weights.tolist() == pytest.approx([0.5, 0.5])
    # the third position has probability 0 whatever the weights: the mixture's NLL there, and so on val, is infinite
    assert nlls and all(nll == math.inf for nll in nlls)
    with pytest.raises(ParamError, match="^of: no model it names gives any val token a probability"):
        em_weights(log_p[:, 2:], iterations=100)


def test_a_fit_that_runs_out_of_iterations_while_still_gaining_says_so(capsys):
    generator = torch.Generator().manual_seed(0)
    log_p = torch.rand(2, 2000, generator=generator, dtype=torch.float64).log()
    em_weights(log_p, iterations=2)
    warning = capsys.readouterr().err
    assert warning.startswith("warning: iterations = 2: the fit's last step still lowered the val NLL by ")
    assert warning.endswith(" nats, so its weights are not yet the best: raise iterations\n")
    em_weights(log_p, iterations=10_000)  # it settles long before
    assert capsys.readouterr().err == ""
    targets = torch.randint(0, 5, (2000,), generator=generator)
    distributions = torch.rand(2, 2000, 5, generator=generator, dtype=torch.float64).log_softmax(-1)
    log_linear_weights(distributions, targets, iterations=1)
    assert capsys.readouterr().err.startswith("warning: iterations = 1: ")
    log_linear_weights(distributions, targets, iterations=1000)
    assert capsys.readouterr().err == ""


def test_a_log_linear_mixture_is_the_normalised_weighted_product_of_its_models_and_round_trips(
    fitted, tmp_path
):
    vocab, trained, _, val, test = fitted
    config = MixtureConfig(family="mixture", of=list(trained), combine="log_linear")
    training = Mixture.fit(config, FitData(vocab, val, val, MAX_LEN, trained=trained))
    mixture, (bigram, fourgram) = training.model, trained.values()
    weights = mixture.weights
    contexts = test.contexts(3, torch.arange(len(test)))
    product = (
        bigram.log_probs(contexts[:, 2:]).double().exp() ** weights[0]
        * fourgram.log_probs(contexts).double().exp() ** weights[1]
    )
    expected = product / product.sum(1, keepdim=True)
    assert torch.allclose(mixture.log_probs(contexts).double().exp(), expected, atol=1e-6)
    of_targets = mixture.log_probs_of(contexts, test.targets).double().exp()
    assert torch.allclose(of_targets, expected[torch.arange(len(test)), test.targets], atol=1e-6)
    # the fit's last NLL is the val NLL of the model it gives, below each model's
    curve = [row["val"] for row in training.curve]
    assert all(later <= earlier + 1e-12 for earlier, later in zip(curve, curve[1:]))
    assert curve[-1] == pytest.approx(score(mixture, val)["nll"], abs=1e-6)
    assert curve[-1] < min(score(model, val)["nll"] for model in trained.values())

    save_model(tmp_path / "mixture.pt", mixture, "mixture")
    loaded = load_model(tmp_path / "mixture.pt", vocab, "mixture")
    assert torch.equal(loaded.weights, weights)
    assert torch.equal(loaded.log_probs(contexts), mixture.log_probs(contexts))
    words = [vocab.decode(ids) for ids in generate(loaded, 20, seed=1, max_len=20)]
    assert len(words) == 20


def test_log_linear_weights_are_those_of_the_lowest_nll_a_grid_search_finds():
    generator = torch.Generator().manual_seed(0)
    # two models' distributions over 4 tokens at 300 positions, and tokens drawn from a third
    log_p = (torch.randn(2, 300, 4, generator=generator, dtype=torch.float64) * 2).log_softmax(2)
    truth = (0.7 * log_p[0] + 0.4 * log_p[1]).softmax(1)
    targets = torch.multinomial(truth, 1, generator=generator).squeeze(1)
    weights, nlls = log_linear_weights(log_p, targets, iterations=100)
    # the NLL of every pair of weights on a grid of step 0.01, each distribution normalised by hand
    grid = torch.linspace(-0.5, 1.5, 201, dtype=torch.float64)
    first, second = torch.meshgrid(grid, grid, indexing="ij")
    scores = first.reshape(-1, 1, 1) * log_p[0] + second.reshape(-1, 1, 1) * log_p[1]  # (G, N, V)
    chosen = scores[:, torch.arange(300), targets]
    nll_of = (scores.exp().sum(2).log() - chosen).mean(1)
    best = nll_of.argmin()
    assert weights.tolist() == pytest.approx(
        [first.flatten()[best].item(), second.flatten()[best].item()], abs=0.01
    )
    assert nll_of[best].item() - 1e-4 < nlls[-1] <= nll_of[best].item() + 1e-12
    equal = (0.5 * log_p[0] + 0.5 * log_p[1]).log_softmax(1)[torch.arange(300), targets]
    assert nlls[0] == pytest.approx(-equal.mean().item(), abs=1e-12)  # from equal weights


def test_a_log_linear_mixture_refuses_a_model_that_gives_probability_0(fitted):
    vocab, trained, _, val, _ = fitted
    maximum_likelihood = NGramConfig(family="ngram", order=2, smoothing="additive", k=0.0)
    trained = {
        "ml": FAMILIES["ngram"].fit(maximum_likelihood, FitData(vocab, val, val, MAX_LEN)).model,
        "fourgram": trained["fourgram"],
    }
    config = MixtureConfig(family="mixture", of=list(trained), combine="log_linear")
    with pytest.raises(ParamError) as error:
        Mixture.fit(config, FitData(vocab, val, val, MAX_LEN, trained=trained))
    assert str(error.value) == (
        "combine = log_linear: ml gives some tokens probability 0 after val's contexts, which no weight of a "
        "product can make up for: mix it linearly"
    )


def test_a_token_a_model_rules_out_stays_ruled_out_in_a_product_whatever_the_models_weight(fitted):
    vocab, trained, _, val, test = fitted
    maximum_likelihood = NGramConfig(family="ngram", order=2, smoothing="additive", k=0.0)
    ml = FAMILIES["ngram"].fit(maximum_likelihood, FitData(vocab, val, val, MAX_LEN)).model
    config = MixtureConfig(family="mixture", of=["ml", "fourgram"], combine="log_linear")
    contexts = test.contexts(3, torch.arange(len(test)))
    ruled_out = ml.log_probs(contexts[:, 2:]).isneginf()
    assert ruled_out.any() and not ruled_out.all(1).any()
    for weights in ([-0.3, 1.3], [0.0, 1.0], [0.5, 0.5]):
        components = [ml, trained["fourgram"]]
        mixture = Mixture(config, vocab, components, torch.tensor(weights, dtype=torch.float64))
        log_p = mixture.log_probs(contexts).double()
        assert torch.equal(log_p.isneginf(), ruled_out) and not log_p.isnan().any()
        assert torch.allclose(log_p.exp().sum(1), torch.ones(len(contexts), dtype=torch.float64), atol=1e-5)


def test_a_log_linear_fit_larger_than_the_memory_is_refused_before_it_starts(capsys):
    check_memory(8, 21_509, 27)  # the default's: 74 MB
    assert capsys.readouterr().err == ""
    # three quarters of this machine's memory: a warning (nothing is allocated here)
    check_memory(8, int(0.75 * machine_memory()) // (2 * 8 * 27 * 8), 27)
    warning = capsys.readouterr().err
    assert (
        warning.startswith("warning: combine = log_linear needs about ")
        and " more than half of the " in warning
    )
    with pytest.raises(ParamError) as error:
        check_memory(8, 10**12, 27)
    assert str(error.value).startswith(
        "combine = log_linear needs about 3456000.0 GB for the distributions of 8 models at 1,000,000,000,000 val "
        "positions, more than the "
    )
    assert str(error.value).endswith(
        " GB of this machine: mix them linearly, which needs only each token's probability"
    )


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            {"of": ["count"]},
            "mixtures.mixture.of = ['count'] is invalid: list should have at least 2 items after validation, not 1",
        ),
        ({"of": ["count", "count"]}, "mixtures.mixture.of: names a model twice: ['count', 'count']"),
        (
            {"of": ["count", "gpt"]},
            "mixtures.mixture.of: 'gpt' is not a model under `models:` (its models: count, nn, trigram, "
            "trigram_nn, kneser_ney, kneser_ney_10, mlp, wavenet, bow, rnn, gru, lstm, transformer)",
        ),
        (
            {"of": ["count", "nn"], "iterations": 0},
            "mixtures.mixture.iterations = 0 is invalid: input should be greater than or equal to 1",
        ),
        (
            {"of": ["count", "nn"], "combine": "geometric"},
            "mixtures.mixture.combine = 'geometric' is invalid: input should be 'linear' or 'log_linear'",
        ),
        (
            {"of": ["count", "nn"], "weights": [0.5, 0.5]},
            "unknown key 'mixtures.mixture.weights' (known keys: of, combine, iterations)",
        ),
    ],
)
def test_bad_mixture_params_name_the_key_and_the_value(tmp_path, given, message):
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    set_params(tmp_path, mixtures__mixture=given)
    with pytest.raises(MakemoreError) as error:
        instance_config("mixture", tmp_path / "params.yaml")
    assert str(error.value) == f"{tmp_path / 'params.yaml'}: {message}"


def test_a_mixture_and_a_model_of_one_name_are_refused(tmp_path):
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    set_params(tmp_path, mixtures__count={"of": ["nn", "trigram"]})
    with pytest.raises(MakemoreError) as error:
        load_params(tmp_path / "params.yaml")
    assert str(error.value).endswith(
        "mixtures.count: a model under `models:` has this name too; give one another"
    )
    set_params(tmp_path, mixtures={}, models__blend={"family": "mixture", "of": ["nn", "trigram"]})
    with pytest.raises(
        MakemoreError, match="models.blend.family = 'mixture': a mixture goes under `mixtures:`"
    ):
        instance_config("blend", tmp_path / "params.yaml")


def test_a_model_it_mixes_reruns_the_mixture_a_model_it_does_not_mix_leaves_it_and_an_undeclared_one_is_refused(
    project,
):
    """The shared project's mixture mixes the trigram and Kneser-Ney models (helpers.small_ladder)."""
    mixed = json.loads((project.path / "metrics/evaluate/mixture.json").read_text())["val"]["nll"]
    for name in ("trigram", "kneser_ney"):
        alone = json.loads((project.path / f"metrics/evaluate/{name}.json").read_text())["val"]["nll"]
        assert mixed < alone
    project.set_params(models__trigram__k=0.5)
    assert set(project.repro()) == {
        "train@trigram",
        "evaluate@trigram",
        "sample@trigram",
        "mix_mixture",
        "compare",
    }
    project.set_params(models__count__k=0.5)
    assert "mix_mixture" not in project.repro()

    # a mixture of a model whose file its stage does not depend on: DVC would not rerun it when that model changes
    project.set_params(mixtures__mixture__of=["trigram", "kneser_ney", "count"])
    refused = stage_in_process(project.path, "train", "mixture")
    assert refused.returncode == 1 and refused.stderr.splitlines() == [
        "error: dvc.yaml: stage mix_mixture does not depend on data/models/count.pt, a model's file that "
        "mixtures.mixture.of names: add it to the stage's deps"
    ]

    # a model that rules tokens out cannot be in a product: the stage names the mixture's param in one line
    project.set_params(mixtures__mixture__of=["trigram", "kneser_ney"], models__trigram__k=0)
    assert stage_in_process(project.path, "train", "trigram").returncode == 0
    refused = stage_in_process(project.path, "train", "mixture")
    assert refused.returncode == 1 and refused.stderr.splitlines() == [
        "error: mixtures.mixture.combine = log_linear: trigram gives some tokens probability 0 after val's "
        "contexts, which no weight of a product can make up for: mix it linearly"
    ]
