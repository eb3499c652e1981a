"""makemore.py's bag of words: each position reads the average of the vectors of its word so far (a causal bag
of words: the order is only in each vector's position embedding), then a tanh MLP, each with a residual, then
the logits."""

from typing import Literal

import torch
from pydantic import Field, StrictInt
from torch import nn

from makemore.models.network import Net, Network, NetworkConfig, near_uniform, within_word


class BoWConfig(NetworkConfig):
    family: Literal["bow"]
    embedding: StrictInt = Field(64, ge=1, le=4096)  # size of each character's and each position's vector
    hidden: StrictInt = Field(64, ge=1, le=65536)  # tanh units of the MLP


class BoWNet(Net):
    def __init__(self, config: BoWConfig, vocab_size: int, context_length: int):
        super().__init__(config, vocab_size, context_length)
        self.wte = nn.Embedding(vocab_size, config.embedding)
        self.wpe = nn.Embedding(context_length, config.embedding)
        self.fc = nn.Linear(config.embedding, config.hidden)
        self.proj = nn.Linear(config.hidden, config.embedding)
        self.head = nn.Linear(config.embedding, vocab_size)
        near_uniform(self.head)

    def forward(self, tokens: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        if positions is None:
            positions = torch.arange(tokens.shape[1], device=tokens.device).expand(tokens.shape)
        x = self.wte(tokens) + self.wpe(positions)  # (B, T, C)
        reads = within_word(positions).float()  # (B, T, T): the word so far
        x = x + (reads / reads.sum(2, keepdim=True)) @ x  # (B, T, C): with its average
        x = x + self.proj(torch.tanh(self.fc(x)))  # (B, T, C)
        return self.head(x)  # (B, T, V)


class BoW(Network):
    Config = BoWConfig
    Net = BoWNet
