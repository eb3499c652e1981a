"""What the neural families share: a net that reads a word from its start, and how a trained one predicts.

A family's `Net` maps tokens (B, T), each row a word from its start boundary, to logits (B, T, V): the
prediction at position t may read tokens 0..t only. How a net is trained is makemore/models/training.py's.
"""

import torch
from torch import nn

from makemore import MakemoreError
from makemore.models.contexts import IGNORED, from_word_start, length_chunks
from makemore.models.interface import FitData, Model, Training
from makemore.models.training import TrainingConfig, train
from makemore.vocab import BOUNDARY, Vocabulary


class NetworkConfig(TrainingConfig):
    """A net's params: its family's sizes, and the training params every net has (TrainingConfig's)."""


class Net(nn.Module):
    """What a family's net is: built from its config, the vocabulary size V and the context length (the most
    tokens it reads before a prediction); `forward` takes tokens (B, T), each row a word from its start
    boundary, and returns logits (B, T, V), where position t reads tokens 0..t only (a whole-word net at
    most context_length of them, T <= context_length; a net of windows, as the MLP, the last ones).

    In training, `positions` (B, T) may give each token's position in its word, 0 at its start boundary:
    then a row holds several words one after another, and position t reads only the tokens of its own word.
    A net that cannot read such rows sets `reads_packed_rows` to False and is given a word a row."""

    reads_packed_rows = True

    def __init__(self, config: NetworkConfig, vocab_size: int, context_length: int):
        super().__init__()
        self.context_length = context_length

    def forward(self, tokens: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError


def within_word(positions: torch.Tensor) -> torch.Tensor:
    """(B, T) positions of tokens in their words -> (B, T, T): [b, t, s] is True where position t may read the
    token at s, that is t itself and the tokens before it back to its word's start (causal within each word)."""
    columns = torch.arange(positions.shape[1], device=positions.device)
    back = columns[:, None] - columns[None, :]  # (T, T): how far the key is before the query
    return (back >= 0) & (back <= positions[:, :, None])  # (B, T, T)


def near_uniform(head: nn.Linear) -> None:
    """Shrink the layer that gives the logits, so that the first predictions are near uniform (part 3)."""
    with torch.no_grad():
        head.weight.mul_(0.1)
        if head.bias is not None:
            head.bias.zero_()


class Network(Model):
    """A family whose model is a torch net: it gives its `Config` and its `Net`."""

    Config: type[NetworkConfig]
    Net: type[Net]

    def __init__(self, config: NetworkConfig, vocab: Vocabulary, net: Net):
        super().__init__(config, vocab)
        self.net = net.eval()

    @classmethod
    def context_length_for(cls, config: NetworkConfig, max_len: int) -> int:
        """By default a whole word of up to `max_len` characters, its start boundary included."""
        return max_len + 1

    @property
    def context_length(self) -> int:
        return self.net.context_length

    @property
    def max_word_length(self) -> int | None:
        return self.context_length - 1

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"context_length": torch.tensor(self.context_length)} | self.net.state_dict()

    @classmethod
    def from_tensors(
        cls, config: NetworkConfig, vocab: Vocabulary, tensors: dict[str, torch.Tensor]
    ) -> "Network":
        tensors = dict(tensors)
        context_length = int(tensors.pop("context_length"))
        if (
            not 2 <= context_length <= 1 << 16
            or cls.context_length_for(config, context_length - 1) != context_length
        ):
            raise ValueError(f"context length {context_length}")  # e.g. an MLP's must be its config's
        net = cls.Net(config, vocab.size, context_length)
        for weights in tensors.values():
            if weights.dtype != torch.float32 or not torch.isfinite(weights).all():
                raise ValueError("weights that are not finite float32")
        net.load_state_dict(tensors, strict=True)  # a RuntimeError for a missing, extra or misshapen tensor
        return cls(config, vocab, net)

    def log_probs(self, contexts: torch.Tensor) -> torch.Tensor:
        words, last = self.words_of(contexts)
        return self.word_log_probs(words, last, torch.arange(len(words)), last)

    def log_probs_of(self, contexts: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """The net reads each distinct word once, from its start, and answers for every context that is a prefix
        of it: the cost of the words, not of the positions (a word of n tokens is n contexts).

        Each context followed by its token is a sequence; sorted, with the end padded below every token, a
        sequence comes just before the sequences it is a prefix of, so it is read with the first sequence
        after it that is a prefix of none.
        """
        words, last = self.words_of(contexts)
        rows, columns = torch.arange(len(words)), torch.arange(words.shape[1] + 1)
        sequences = torch.cat([words, words[:, :1]], dim=1)  # (B, T + 1)
        sequences[rows, last + 1] = tokens.long()
        sequences = torch.where(columns <= (last + 1)[:, None], sequences, IGNORED)
        distinct, inverse = torch.unique(sequences, dim=0, return_inverse=True)
        covered = ((distinct == distinct.roll(-1, 0)) | (distinct == IGNORED)).all(1)
        covered[-1] = False
        first_uncovered = torch.where(covered, len(distinct), torch.arange(len(distinct)))
        reader = first_uncovered.flip(0).cummin(0).values.flip(0)
        readers, reader_of = torch.unique(reader, return_inverse=True)
        # (R, T): the IGNORED after a word read as the boundary
        inputs = distinct[readers, :-1].clamp(min=BOUNDARY)
        ends = (distinct[readers] != IGNORED).sum(1) - 2
        log_probs = self.word_log_probs(inputs, ends, reader_of[inverse], last)  # (B, V)
        return log_probs.gather(1, tokens.long().unsqueeze(1)).squeeze(1)

    @torch.no_grad()
    def word_log_probs(
        self, words: torch.Tensor, ends: torch.Tensor, rows: torch.Tensor, columns: torch.Tensor
    ) -> torch.Tensor:
        """(B, T) words from their start and the last position to read in each -> (N, V) log-probabilities at
        the N positions (rows, columns). The words are read in chunks of similar length, each as wide as its
        longest and of at most EVAL_TOKENS positions (or one word): a long word costs its own length only."""
        log_probs = torch.empty(len(rows), self.vocab.size)
        order = ends.argsort(stable=True)
        rank = torch.empty_like(order)
        rank[order] = torch.arange(len(order))
        asked = rank[rows].argsort(stable=True)  # the positions, word by word in the order the words are read
        asked_ranks = rank[rows][asked]
        device = next(self.net.parameters()).device  # a GPU's while training there
        for first, last in length_chunks(ends[order].tolist()):
            width = int(ends[order[last - 1]]) + 1
            logits = self.net(words[order[first:last], :width].to(device))  # (b, width, V)
            at = asked[torch.searchsorted(asked_ranks, first) : torch.searchsorted(asked_ranks, last)]
            log_probs[at] = logits[rank[rows[at]] - first, columns[at]].log_softmax(-1).cpu()
        return log_probs

    def words_of(self, contexts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The contexts from their word's start, and where each ends. A context without a boundary is a word
        longer than the context: a net of whole words refuses it (a window would read it without its start)."""
        if self.max_word_length is not None and not (contexts == BOUNDARY).any(1).all():
            raise MakemoreError(
                f"a word longer than the {self.max_word_length} characters this model reads whole "
                "(data.max_len when it was trained)"
            )
        return from_word_start(contexts)

    @classmethod
    def fit(cls, config: NetworkConfig, data: FitData) -> Training:
        context_length = cls.context_length_for(config, data.max_len)
        return train(
            config,
            data,
            build_net=lambda: cls.Net(config, data.vocab.size, context_length),
            model_of=lambda net: cls(config, data.vocab, net),
        )


class Windowed(Network):
    """A family whose net reads a window of the last `context` characters (its config's) before each position,
    whatever the word's length: the window before a word's start is the boundary."""

    @classmethod
    def context_length_for(cls, config: NetworkConfig, max_len: int) -> int:
        return config.context

    @property
    def max_word_length(self) -> int | None:
        return None  # any word
