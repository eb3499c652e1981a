"""A mixture of trained models, token by token, in one of two ways (`combine`):

- linear: p(w | h) = sum over k of weight_k * p_k(w | h). The weights are fitted on val by expectation-maximisation,
  as SRILM's compute-best-mix does: each step gives each model the mean, over the val tokens, of its share of the
  mixture's probability of the token.
- log_linear: p(w | h) proportional to the product over k of p_k(w | h) ** weight_k, normalised over the tokens
  (a product of experts). The weights, any real numbers, are fitted on val by L-BFGS: a negative weight divides
  the product by that model's probabilities.

Either way the val NLL is convex in the weights, so every step of the fit heads for the best ones; it stops once a
step gains under SETTLED nats, or after `iterations` steps, with a warning if the last still gained more (EM is slow
where the best weight of a model is 0). Val is the mixture's tuning set, as it is for every param here; test is not
looked at.
"""

import json
import math
import sys
from collections.abc import Callable
from typing import Literal

import torch
from pydantic import Field, StrictInt, field_validator

from makemore import ParamError
from makemore.models.interface import FamilyConfig, FitData, Model, Training
from makemore.models.scoring import position_log_likelihoods, position_log_probs
from makemore.models.steps import machine_memory, too_much_memory
from makemore.params import InstanceName
from makemore.vocab import Vocabulary

SETTLED = 1e-9  # nats: the fit stops once a step lowers the val NLL by less


class MixtureConfig(FamilyConfig):
    family: Literal["mixture"]
    of: list[InstanceName] = Field(min_length=2)  # the instances of `models:` mixed
    # linear: the weighted sum of the models' probabilities (EM); log_linear: their weighted product (L-BFGS)
    combine: Literal["linear", "log_linear"] = "linear"
    iterations: StrictInt = Field(
        100, ge=1, le=10_000
    )  # steps of the fit at most (fewer once a step gains under 1e-9)

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
        self.weights = weights  # (K,) float64: summing to 1 (linear), any real numbers (log_linear)

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
        val = data.val.whole()
        if config.combine == "linear":
            log_p = torch.stack([position_log_likelihoods(component, val) for component in components])
            weights, nlls = em_weights(log_p, config.iterations)
        else:
            check_memory(len(components), len(val), data.vocab.size)
            log_p = torch.stack([position_log_probs(component, val) for component in components])
            for name, each in zip(config.of, log_p):
                if each.isneginf().any():
                    raise ParamError(
                        f"combine = log_linear: {name} gives some tokens probability 0 after val's contexts, which "
                        f"no weight of a product can make up for: mix it linearly"
                    )
            weights, nlls = log_linear_weights(log_p, val.targets.long(), config.iterations)
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
        if self.config.combine == "log_linear":  # normalised over every token: the whole distributions
            return super().log_probs_of(contexts, tokens)
        each = [
            model.log_probs_of(self.read_by(model, contexts), tokens).double() for model in self.components
        ]
        return self.mixed(torch.stack(each)).float()  # (B,)

    def read_by(self, model: Model, contexts: torch.Tensor) -> torch.Tensor:
        """The last tokens of (B, context_length) contexts that `model` reads: (B, model.context_length)."""
        return contexts[:, self.context_length - model.context_length :]

    def mixed(self, log_p: torch.Tensor) -> torch.Tensor:
        """(K, ...) each model's log p -> (...) the mixture's: log sum_k weight_k p_k, or for log_linear, from
        (K, B, V) the whole distributions, log of the normalised prod_k p_k ** weight_k."""
        if self.config.combine == "log_linear":
            return log_linear(self.weights, log_p).log_softmax(-1)
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
        linear = config.combine == "linear"
        if not (
            weights.dtype == torch.float64
            and weights.shape == (len(config.of),)
            and weights.isfinite().all()
            and (not linear or ((weights >= 0).all() and abs(weights.sum().item() - 1) < 1e-9))
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


def settled_steps(nll: Callable[[], float], step: Callable[[], object], iterations: int) -> list[float]:
    """The NLL before the first step and after each of at most `iterations` steps, which stop once one lowers it by
    under SETTLED nats. A fit that used all its steps while the last still gained more says so: its weights are not
    yet the best."""
    nlls = [nll()]
    for _ in range(iterations):
        step()
        nlls.append(nll())
        if nlls[-2] - nlls[-1] < SETTLED:
            return nlls
    print(
        f"warning: iterations = {iterations}: the fit's last step still lowered the val NLL by "
        f"{nlls[-2] - nlls[-1]:.1e} nats, so its weights are not yet the best: raise iterations",
        file=sys.stderr,
    )
    return nlls


def em_weights(log_p: torch.Tensor, iterations: int) -> tuple[torch.Tensor, list[float]]:
    """(K, N) float64 log p of each of K models at N val positions -> the weights of the mixture of highest
    likelihood, found by EM from equal weights, and the mixture's NLL per token before each step and after the last.

    A position no model gives any probability makes the NLL infinite, whatever the weights: EM fits the weights on
    the other positions, and the NLLs it returns are infinite, as the mixture's is on val.
    """
    possible = log_p.logsumexp(0) > -torch.inf
    if not possible.any():
        raise ParamError("of: no model it names gives any val token a probability: no weights can be fitted")
    log_p = log_p[:, possible]
    weights = torch.full((len(log_p),), 1 / len(log_p), dtype=torch.float64)

    def joint() -> torch.Tensor:
        return weights.log().unsqueeze(1) + log_p  # (K, N) log weight_k p_k

    def step() -> None:
        nonlocal weights
        each = joint()
        weights = (
            (each - each.logsumexp(0)).exp().mean(1)
        )  # each model's mean share of the tokens' probability

    nlls = settled_steps(lambda: -joint().logsumexp(0).mean().item(), step, iterations)
    if not possible.all():
        nlls = [math.inf] * len(nlls)
    return weights, nlls


def check_memory(models: int, positions: int, vocab_size: int) -> None:
    """Refuse a log-linear fit whose models' distributions at every val position, held twice while they are
    stacked, would not fit in this machine's memory; warn when they would take more than half."""
    needed = 2 * models * positions * vocab_size * 8
    estimate = (
        f"combine = log_linear needs about {needed / 1e9:.1f} GB for the distributions of {models} models at "
        f"{positions:,} val positions"
    )
    too_much = too_much_memory(needed, machine_memory(), estimate, "this machine")
    if too_much is not None:
        raise ParamError(f"{too_much}: mix them linearly, which needs only each token's probability")


def log_linear(weights: torch.Tensor, log_p: torch.Tensor) -> torch.Tensor:
    """(K,) weights and (K, ..., V) each model's log p -> (..., V) sum_k weight_k log p_k, not yet normalised.

    A token that a model gives probability 0 stays impossible, whatever that model's weight: a weight of 0 or
    below would otherwise turn its -inf into nan or +inf. (The fit refuses such a model on val's contexts; this
    holds for the contexts val does not have.)"""
    ruled_out = log_p.isneginf()
    if not ruled_out.any():  # the fit's case, and every smoothed model's: no copy of the distributions
        return torch.tensordot(weights, log_p, dims=1)
    return torch.tensordot(weights, log_p.masked_fill(ruled_out, 0.0), dims=1).masked_fill(
        ruled_out.any(0), -torch.inf
    )


def log_linear_weights(
    log_p: torch.Tensor, targets: torch.Tensor, iterations: int
) -> tuple[torch.Tensor, list[float]]:
    """(K, N, V) float64 log p of every token by each of K models at N val positions, and (N,) the tokens there ->
    the weights of the log-linear mixture of highest likelihood, found by L-BFGS from equal weights 1/K (the
    geometric mean), and the mixture's NLL per token before each step and after the last."""
    chosen = log_p.gather(2, targets.view(1, -1, 1).expand(len(log_p), -1, 1)).squeeze(2)  # (K, N)

    def nll(weights: torch.Tensor) -> torch.Tensor:
        return (log_linear(weights, log_p).logsumexp(1) - weights @ chosen).mean()

    weights = torch.full((len(log_p),), 1 / len(log_p), dtype=torch.float64, requires_grad=True)
    # one iteration a step, so that each step is a row of the curve; its line search may take up to 25 evaluations
    optimizer = torch.optim.LBFGS([weights], max_iter=1, max_eval=25, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = nll(weights)
        loss.backward()
        return loss

    def value() -> float:
        with torch.no_grad():
            return nll(weights).item()

    nlls = settled_steps(value, lambda: optimizer.step(closure), iterations)
    return weights.detach(), nlls
