"""The MLP of Bengio et al. (2003), the series' part 2: embeddings of the last characters, a tanh hidden layer,
logits; initialised as in part 3, so the first loss is near the uniform guess's log V and tanh is not saturated."""

from typing import Literal

import torch
from pydantic import Field, StrictInt
from torch import nn

from makemore.models.contexts import windows
from makemore.models.network import Net, NetworkConfig, Windowed, near_uniform


class MLPConfig(NetworkConfig):
    family: Literal["mlp"]
    context: StrictInt = Field(8, ge=1, le=64)  # characters the net reads before each position
    embedding: StrictInt = Field(24, ge=1, le=4096)  # size of each character's vector
    hidden: StrictInt = Field(512, ge=1, le=65536)  # tanh units
    layernorm: bool = True  # normalise the hidden layer's input (part 3's fix, as a layer norm)


class MLPNet(Net):
    def __init__(self, config: MLPConfig, vocab_size: int, context_length: int):
        super().__init__(config, vocab_size, context_length)
        self.wte = nn.Embedding(vocab_size, config.embedding)
        self.hidden = nn.Linear(context_length * config.embedding, config.hidden)
        self.norm = nn.LayerNorm(config.hidden) if config.layernorm else nn.Identity()
        self.head = nn.Linear(config.hidden, vocab_size)
        with torch.no_grad():  # part 3: tanh's gain 5/3 over sqrt(fan-in)
            nn.init.normal_(self.hidden.weight, std=(5 / 3) / (context_length * config.embedding) ** 0.5)
        near_uniform(self.head)

    def forward(self, tokens: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        # (B, T, context): the characters up to each position
        contexts = windows(tokens, self.context_length, positions)
        emb = self.wte(contexts).flatten(2)  # (B, T, context * embedding)
        return self.head(torch.tanh(self.norm(self.hidden(emb))))  # (B, T, V)


class MLP(Windowed):
    Config = MLPConfig
    Net = MLPNet
