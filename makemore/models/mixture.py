"""A mixture of trained models, token by token: p(w | h) = sum over k of weight_k * p_k(w | h).

The models are the instances that `of` names, as their train stages fitted them; the weights are fitted on val by
expectation-maximisation, as SRILM's compute-best-mix does: each step gives each model the mean, over the val tokens,
of its share of the mixture's probability of the token. Each step lowers the val NLL, and the NLL is convex in the
weights, so EM finds the best weights. Val is the mixture's tuning set, as it is for every param here; test is not
looked at.
"""

import json
from typing import Literal

import torch
from pydantic import Field, StrictInt, field_validator

from makemore.models.interface import FamilyConfig, FitData, Model, Training
from makemore.models.scoring import position_log_likelihoods
from makemore.params import InstanceName
from makemore.vocab import Vocabulary

SETTLED = 1e-9  # nats: EM stops once a step lowers the val NLL by less


class MixtureConfig(FamilyConfig):
    family: Literal["mixture"]
    of: list[InstanceName] = Field(min_length=2)  # the instances of `models:` mixed
    iterations: StrictInt = Field(
        100, ge=1, le=10_000
    )  # EM steps at most (fewer once a step gains under 1e-9)

    @field_validator("of")
    @classmethod
    def each_once(cls, names: list[str]) -> list[str]:
        if len(set(names)) != len(names):
            raise ValueError(f"names a model twice: {names}")
        return names


class Mixture(Model):
    Config = MixtureConfig

    def __init__(
        self, config: MixtureConfig, vocab: Vocabulary, components: list[Model], weights: torch.Tensor
    ):
        super().__init__(config, vocab)
        self.components = components  # in the order of `of`
        self.weights = weights  # (K,) float64, summing to 1

    @property
    def context_length(self) -> int:
        return max(component.context_length for component in self.components)

    @property
    def max_word_length(self) -> int | None:
        lengths = [component.max_word_length for component in self.components]
        return min((length for length in lengths if length is not None), default=None)

    @classmethod
    def fit(cls, config: MixtureConfig, data: FitData) -> Training:
        components = [data.trained[name] for name in config.of]
        val = [position_log_likelihoods(component, data.val.whole()) for component in components]
        weights, nlls = em_weights(torch.stack(val), config.iterations)
        return Training(
            cls(config, data.vocab, components, weights),
            curve=[{"step": step, "val": nll} for step, nll in enumerate(nlls)],
            summary={
                "weights": {name: round(weight, 6) for name, weight in zip(config.of, weights.tolist())}
            },
        )

    def log_probs(self, contexts: torch.Tensor) -> torch.Tensor:
        # (K, B, V): each model's log-probabilities after the part of the contexts it reads
        each = torch.stack(
            [model.log_probs(self.read_by(model, contexts)).double() for model in self.components]
        )
        return self.mixed(each).float()

    def log_probs_of(self, contexts: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        each = [
            model.log_probs_of(self.read_by(model, contexts), tokens).double() for model in self.components
        ]
        return self.mixed(torch.stack(each)).float()  # (B,)

    def read_by(self, model: Model, contexts: torch.Tensor) -> torch.Tensor:
        """The last tokens of (B, context_length) contexts that `model` reads: (B, model.context_length)."""
        return contexts[:, self.context_length - model.context_length :]

    def mixed(self, log_p: torch.Tensor) -> torch.Tensor:
        """(K, ...) each model's log p -> (...) the mixture's: log sum_k weight_k p_k."""
        return (self.weights.log().view(-1, *[1] * (log_p.dim() - 1)) + log_p).logsumexp(0)

    def tensors(self) -> dict[str, torch.Tensor | str]:
        tensors: dict[str, torch.Tensor | str] = {"weights": self.weights}
        for k, model in enumerate(self.components):
            tensors[f"{k}.config"] = json.dumps(model.config.model_dump())
            tensors |= {f"{k}.{key}": value for key, value in model.tensors().items()}
        return tensors

    @classmethod
    def from_tensors(
        cls, config: MixtureConfig, vocab: Vocabulary, tensors: dict[str, torch.Tensor | str]
    ) -> "Mixture":
        from makemore.models import FAMILIES  # the registry holds this family: imported once it is built

        weights = tensors["weights"]
        if not (
            weights.dtype == torch.float64
            and weights.shape == (len(config.of),)
            and (weights >= 0).all()
            and abs(weights.sum().item() - 1) < 1e-9
        ):
            raise ValueError("mixture weights")
        components = []
        for k in range(len(config.of)):
            own = {key.partition(".")[2]: value for key, value in tensors.items() if key.startswith(f"{k}.")}
            given = json.loads(own.pop("config"))
            family = FAMILIES[given["family"]]
            model_config = family.Config.model_validate(given)
            components.append(family.from_tensors(model_config, vocab, own))
        return cls(config, vocab, components, weights)


def em_weights(log_p: torch.Tensor, iterations: int) -> tuple[torch.Tensor, list[float]]:
    """(K, N) float64 log p of each of K models at N val positions -> the weights of the mixture of highest
    likelihood, found by EM from equal weights, and the mixture's NLL per token before each step and after the last.

    A position no model gives any probability adds infinity to the NLL, whatever the weights: EM leaves it out.
    """
    log_p = log_p[:, log_p.logsumexp(0) > -torch.inf]
    weights = torch.full((len(log_p),), 1 / len(log_p), dtype=torch.float64)
    nlls = []
    for _ in range(iterations):
        joint = weights.log().unsqueeze(1) + log_p  # (K, N) log weight_k p_k
        mixture = joint.logsumexp(0)  # (N,)
        nlls.append(-mixture.mean().item())
        if len(nlls) > 1 and nlls[-2] - nlls[-1] < SETTLED:
            break
        weights = (joint - mixture).exp().mean(1)  # each model's mean share of the tokens' probability
    else:
        nlls.append(-(weights.log().unsqueeze(1) + log_p).logsumexp(0).mean().item())
    return weights, nlls
