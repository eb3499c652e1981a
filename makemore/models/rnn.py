"""A recurrent net over the word (the series' RNN and GRU, as makemore.py has them): a GRU reads the word from
its start boundary, one character at a time, and its state gives the logits of the next."""

from typing import Literal

import torch
from pydantic import Field, StrictInt
from torch import nn

from makemore.models.network import Network, NetworkConfig


class RNNConfig(NetworkConfig):
    family: Literal["rnn"]
    embedding: StrictInt = Field(ge=1, le=4096)  # size of each character's vector
    hidden: StrictInt = Field(ge=1, le=4096)  # size of the GRU's state
    layers: StrictInt = Field(ge=1, le=16)  # stacked GRUs
    dropout: float = Field(ge=0, lt=1)  # between the stacked GRUs and before the logits, in training


class RNNNet(nn.Module):
    def __init__(self, config: RNNConfig, vocab_size: int, context_length: int):
        super().__init__()
        self.context_length = context_length
        self.wte = nn.Embedding(vocab_size, config.embedding)
        self.gru = nn.GRU(
            config.embedding,
            config.hidden,
            config.layers,
            batch_first=True,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, vocab_size)
        with torch.no_grad():
            self.head.weight.mul_(0.1)  # near-uniform first predictions
            self.head.bias.zero_()

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        states, _ = self.gru(self.wte(tokens))
        return self.head(self.drop(states))


class RNN(Network):
    Config = RNNConfig
    Net = RNNNet
