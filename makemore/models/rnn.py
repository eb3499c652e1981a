"""A recurrent net over the word (the series' RNN and GRU, as makemore.py has them, and the LSTM): the cell
reads the word from its start boundary, one character at a time, and its state gives the logits of the next."""

from typing import Literal

import torch
from pydantic import Field, StrictInt
from torch import nn

from makemore.models.network import Net, Network, NetworkConfig, near_uniform

# rnn: Elman's, tanh(W x + U h + b), makemore.py's RNNCell
CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class RNNConfig(NetworkConfig):
    family: Literal["rnn"]
    cell: Literal["rnn", "gru", "lstm"] = "gru"  # the recurrent cell
    embedding: StrictInt = Field(64, ge=1, le=4096)  # size of each character's vector
    hidden: StrictInt = Field(256, ge=1, le=4096)  # size of the cell's state
    layers: StrictInt = Field(1, ge=1, le=16)  # stacked cells
    dropout: float = Field(0.3, ge=0, lt=1)  # between the stacked cells and before the logits, in training


class RNNNet(Net):
    def __init__(self, config: RNNConfig, vocab_size: int, context_length: int):
        super().__init__(config, vocab_size, context_length)
        self.wte = nn.Embedding(vocab_size, config.embedding)
        between = config.dropout if config.layers > 1 else 0.0
        self.cell = CELLS[config.cell](
            config.embedding, config.hidden, config.layers, batch_first=True, dropout=between
        )
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, vocab_size)
        near_uniform(self.head)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        states, _ = self.cell(self.wte(tokens))  # (B, T, hidden)
        return self.head(self.drop(states))  # (B, T, V)


class RNN(Network):
    Config = RNNConfig
    Net = RNNNet
