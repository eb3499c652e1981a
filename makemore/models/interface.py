"""The one interface every model family implements, and what every family's config has."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import torch
from pydantic import BaseModel, ConfigDict

from makemore.models.contexts import Split
from makemore.tensorfiles import Checkpoint
from makemore.vocab import Vocabulary


class FamilyConfig(BaseModel):
    """A family's params, one instance's section of `models:` in params.yaml (its `family` key included)."""

    # strict, as params.py's sections: a value of the wrong type is refused, not converted
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


@dataclass(frozen=True)
class FitData:
    """What a family fits from."""

    vocab: Vocabulary
    train: Split  # the positions fitted: held in memory, or read from the split's file a block at a time
    val: Split  # watched only: a curve, the choice of the best weights
    max_len: int  # the longest word any split or caller may give (data.max_len): a whole-word model reads that many
    # where a family that trains for long keeps its state, and resumes from
    checkpoint: Checkpoint | None = None
    # the trained models a mixture mixes, by instance name (the train stage loads those its `of` names)
    trained: dict[str, "Model"] = field(default_factory=dict)


@dataclass
class Training:
    model: "Model"
    curve: list[dict[str, float]]  # rows of step, train and val NLL (and more columns a family adds)
    # what a family reports of its fit (metrics/train/NAME/metrics.json)
    summary: dict[str, object] = field(default_factory=dict)
    # wall time of each curve row since the fit began, with the interrupted runs it resumed (its last is the
    # training time the stage writes to metrics/time, the one output that differs from run to run)
    seconds: list[float] = field(default_factory=list)


class Model(ABC):
    """A character-level language model: the log-probabilities of the next token after any context.

    A family subclasses it with its `Config`, and knows how to fit from the train split, how to turn
    into tensors and back (nothing pickled), and how to predict. Everything else (evaluation,
    sampling, the CLI, tuning, the figures) only uses `context_length`, `max_word_length`, `log_probs` and
    `log_probs_of`.
    """

    Config: type[FamilyConfig]

    def __init__(self, config: FamilyConfig, vocab: Vocabulary):
        self.config = config
        self.vocab = vocab

    @property
    @abstractmethod
    def context_length(self) -> int:
        """How many tokens before a position the model reads."""

    @property
    def max_word_length(self) -> int | None:
        """The longest word the model reads whole; None if it reads any word, as a model of the last
        `context_length` tokens does. A longer word is refused, never read through a window."""
        return None

    @classmethod
    @abstractmethod
    def fit(cls, config: FamilyConfig, data: FitData) -> Training:
        """Fit on `data.train`; `data.val` may only be watched (a curve), never fitted.

        A ParamError it raises starts with the param to blame, `key = value`: the stage names the model before it.
        """

    @abstractmethod
    def log_probs(self, contexts: torch.Tensor) -> torch.Tensor:
        """(B, context_length) tokens, oldest first and padded with the boundary -> (B, V) next-token log-probabilities."""

    def log_probs_of(self, contexts: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """(B, context_length) contexts and (B,) tokens -> log p(token | context): the entries of `log_probs` that
        the tokens pick. A family may override it to compute them without the whole distributions."""
        return self.log_probs(contexts).gather(1, tokens.long().unsqueeze(1)).squeeze(1)

    @abstractmethod
    def tensors(self) -> dict[str, torch.Tensor]:
        """Everything the model needs to predict, as named tensors."""

    @classmethod
    @abstractmethod
    def from_tensors(
        cls, config: FamilyConfig, vocab: Vocabulary, tensors: dict[str, torch.Tensor]
    ) -> "Model":
        """The model `tensors()` came from; a ValueError if they cannot be it."""
