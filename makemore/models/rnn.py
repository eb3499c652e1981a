"""A recurrent net over the word (the series' RNN and GRU, as makemore.py has them): a GRU reads the word from
its start boundary, one character at a time, and its state gives the logits of the next."""

from typing import Literal

import torch
from pydantic import Field, StrictInt
from torch import nn

from makemore.models.network import Net, Network, NetworkConfig, near_uniform


class RNNConfig(NetworkConfig):
    family: Literal["rnn"]
    embedding: StrictInt = Field(64, ge=1, le=4096)  # size of each character's vector
    hidden: StrictInt = Field(256, ge=1, le=4096)  # size of the GRU's state
    layers: StrictInt = Field(1, ge=1, le=16)  # stacked GRUs
    dropout: float = Field(0.3, ge=0, lt=1)  # between the stacked GRUs and before the logits, in training


class RNNNet(Net):
    def __init__(self, config: RNNConfig, vocab_size: int, context_length: int):
        super().__init__(config, vocab_size, context_length)
        self.wte = nn.Embedding(vocab_size, config.embedding)
        between = config.dropout if config.layers > 1 else 0.0
        self.gru = nn.GRU(config.embedding, config.hidden, config.layers, batch_first=True, dropout=between)
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, vocab_size)
        near_uniform(self.head)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        states, _ = self.gru(self.wte(tokens))  # (B, T, hidden)
        return self.head(self.drop(states))  # (B, T, V)


class RNN(Network):
    Config = RNNConfig
    Net = RNNNet
