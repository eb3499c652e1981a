"""A recurrent net over the word (the series' RNN and GRU, as makemore.py has them, and the LSTM): the cell
reads the word from its start boundary, one character at a time, and its state gives the logits of the next."""

from typing import Literal

import torch
from pydantic import Field, StrictInt
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from makemore.models.network import Net, Network, NetworkConfig, near_uniform
from makemore.vocab import BOUNDARY

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
    reads_packed_rows = False  # the state runs along the row

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

    def forward(self, tokens: torch.Tensor, positions: None = None) -> torch.Tensor:
        embedded = self.wte(tokens)  # (B, T, embedding)
        if tokens.is_meta:  # the memory estimate: every word as wide as the row
            return self.head(self.drop(self.cell(embedded)[0]))  # (B, T, V)
        # the cell reads each word only up to its end, and the logits are only of its positions: none of padding
        words = pack_padded_sequence(embedded, word_lengths(tokens), batch_first=True, enforce_sorted=False)
        states, _ = self.cell(words)  # (N, hidden) for the N positions of the words, packed
        logits = states._replace(data=self.head(self.drop(states.data)))  # (N, V)
        padded, _ = pad_packed_sequence(logits, batch_first=True, total_length=tokens.shape[1])
        return padded  # (B, T, V), 0 after each word's end


def word_lengths(tokens: torch.Tensor) -> torch.Tensor:
    """(B, T) words from their start boundary, padded with it -> (B,) the tokens of each word, on the CPU (as
    packing wants them): up to the first boundary after the start."""
    B, T = tokens.shape
    ended = torch.cat([tokens[:, 1:] == BOUNDARY, tokens.new_ones(B, 1, dtype=torch.bool)], dim=1)  # (B, T)
    return (ended.int().argmax(1) + 1).cpu()


class RNN(Network):
    Config = RNNConfig
    Net = RNNNet
