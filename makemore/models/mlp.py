"""The MLP of Bengio et al. (2003), the series' part 2: embeddings of the last characters, a tanh hidden layer,
logits; initialised as in part 3, so the first loss is near the uniform guess's log V and tanh is not saturated."""

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, StrictInt
from torch import nn

from makemore.models.network import Network, NetworkConfig
from makemore.vocab import BOUNDARY


class MLPConfig(NetworkConfig):
    family: Literal["mlp"]
    context: StrictInt = Field(ge=1, le=64)  # characters the net reads before each position
    embedding: StrictInt = Field(ge=1, le=4096)  # size of each character's vector
    hidden: StrictInt = Field(ge=1, le=65536)  # tanh units
    layernorm: bool = False  # normalise the hidden layer's input (part 3's fix, as a layer norm)


class MLPNet(nn.Module):
    def __init__(self, config: MLPConfig, vocab_size: int, context_length: int):
        super().__init__()
        self.context_length = context_length
        self.wte = nn.Embedding(vocab_size, config.embedding)
        self.hidden = nn.Linear(context_length * config.embedding, config.hidden)
        self.norm = nn.LayerNorm(config.hidden) if config.layernorm else nn.Identity()
        self.head = nn.Linear(config.hidden, vocab_size)
        with torch.no_grad():  # part 3: tanh's gain 5/3 over sqrt(fan-in), and small logits at the start
            nn.init.normal_(self.hidden.weight, std=(5 / 3) / (context_length * config.embedding) ** 0.5)
            self.head.weight.mul_(0.1)
            self.head.bias.zero_()

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        padded = F.pad(tokens, (self.context_length - 1, 0), value=BOUNDARY)
        windows = padded.unfold(
            1, self.context_length, 1
        )  # (B, T, context): the characters up to each position
        emb = self.wte(windows).flatten(2)
        return self.head(torch.tanh(self.norm(self.hidden(emb))))


class MLP(Network):
    Config = MLPConfig
    Net = MLPNet

    @classmethod
    def reach(cls, config: MLPConfig, max_len: int) -> int:
        return config.context

    @property
    def max_word_length(self) -> int | None:
        return None  # a window of the last `context` characters: any word
