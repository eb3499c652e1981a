"""The series' part 5, a WaveNet: the vectors of the last `context` characters fused two by two, level by level
(8 -> 4 -> 2 -> 1 for a context of 8), each fusion a linear layer, a normalisation and tanh; then the logits.
The normalisation is a layer norm where part 5 has a batch norm: no running statistics, and no prediction
that depends on the rest of its batch."""

from typing import Literal

import torch
from pydantic import Field, StrictInt, model_validator
from torch import nn

from makemore.models.contexts import windows
from makemore.models.network import Net, NetworkConfig, Windowed, near_uniform


class WaveNetConfig(NetworkConfig):
    family: Literal["wavenet"]
    context: StrictInt = Field(8, ge=2, le=64)  # characters the net reads: a power of 2, a level per halving
    embedding: StrictInt = Field(24, ge=1, le=4096)  # size of each character's vector
    hidden: StrictInt = Field(128, ge=1, le=4096)  # units of each level

    @model_validator(mode="after")
    def context_halves_to_one(self) -> "WaveNetConfig":
        if self.context & (self.context - 1):
            raise ValueError(f"context = {self.context} is not a power of 2")
        return self


class WaveNetNet(Net):
    def __init__(self, config: WaveNetConfig, vocab_size: int, context_length: int):
        super().__init__(config, vocab_size, context_length)
        self.wte = nn.Embedding(vocab_size, config.embedding)
        widths = [config.embedding] + [config.hidden] * (context_length.bit_length() - 1)
        self.levels = nn.ModuleList(
            nn.Sequential(
                nn.Linear(2 * width, config.hidden, bias=False), nn.LayerNorm(config.hidden), nn.Tanh()
            )
            for width in widths[:-1]
        )
        self.head = nn.Linear(config.hidden, vocab_size)
        near_uniform(self.head)

    def forward(self, tokens: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        x = self.wte(windows(tokens, self.context_length, positions))  # (B, T, context, C)
        for level in self.levels:
            B, T, n, C = x.shape
            x = level(x.reshape(B, T, n // 2, 2 * C))  # (B, T, n / 2, hidden): pairs fused
        return self.head(x.squeeze(2))  # (B, T, V)


class WaveNet(Windowed):
    Config = WaveNetConfig
    Net = WaveNetNet
