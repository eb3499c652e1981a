"""A small GPT-style decoder (the series' Transformer): causal self-attention and MLP blocks, pre-layernorm,
over the whole word from its start boundary, as in nanoGPT's model.py."""

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, StrictInt, model_validator
from torch import nn

from makemore.models.network import Net, Network, NetworkConfig, near_uniform, within_word


class TransformerConfig(NetworkConfig):
    family: Literal["transformer"]
    layers: StrictInt = Field(4, ge=1, le=64)  # blocks
    heads: StrictInt = Field(4, ge=1, le=64)  # attention heads per block
    embedding: StrictInt = Field(64, ge=1, le=4096)  # width of the residual stream; a multiple of heads
    dropout: float = Field(0.0, ge=0, lt=1)  # on attention weights and each block's output, in training

    @model_validator(mode="after")
    def heads_divide_embedding(self) -> "TransformerConfig":
        if self.embedding % self.heads:
            raise ValueError(f"embedding = {self.embedding} is not a multiple of heads = {self.heads}")
        return self


class SelfAttention(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.heads, self.dropout = config.heads, config.dropout
        self.qkv = nn.Linear(config.embedding, 3 * config.embedding)
        self.proj = nn.Linear(config.embedding, config.embedding)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = (
            t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in self.qkv(x).split(C, dim=2)
        )
        dropout = self.dropout if self.training else 0.0
        # (B, heads, T, C / heads); causal, or within each word of a packed row (mask: (B, 1, T, T))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=mask is None)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))  # (B, T, C)


class Block(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(config.embedding), nn.LayerNorm(config.embedding)
        self.attn = SelfAttention(config)
        self.mlp = nn.Sequential(
            nn.Linear(config.embedding, 4 * config.embedding),
            nn.GELU(),
            nn.Linear(4 * config.embedding, config.embedding),
        )
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln1(x), mask))
        return x + self.drop(self.mlp(self.ln2(x)))


class TransformerNet(Net):
    def __init__(self, config: TransformerConfig, vocab_size: int, context_length: int):
        super().__init__(config, vocab_size, context_length)
        self.wte = nn.Embedding(vocab_size, config.embedding)
        self.wpe = nn.Embedding(context_length, config.embedding)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.ln = nn.LayerNorm(config.embedding)
        self.head = nn.Linear(config.embedding, vocab_size, bias=False)
        near_uniform(self.head)  # the rest keeps PyTorch's initialisation

    def forward(self, tokens: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        if positions is None:  # a word a row: causal attention
            mask, positions = None, torch.arange(tokens.shape[1], device=tokens.device)
        else:  # words one after another: attention within each
            mask = within_word(positions).unsqueeze(1)  # (B, 1, T, T)
        x = self.drop(self.wte(tokens) + self.wpe(positions))  # (B, T, C)
        for block in self.blocks:
            x = block(x, mask)
        return self.head(self.ln(x))  # (B, T, V)


class Transformer(Network):
    Config = TransformerConfig
    Net = TransformerNet
