"""Transformer pieces shared by the app's autoregressive models (the text and melody GPT, the face prior):
pre-LayerNorm blocks of causal self-attention (torch's scaled_dot_product_attention) and a GELU MLP, with a
KV cache so that generation costs one token's work per step instead of re-reading the whole context.

`step` advances several sequences (each with its own cache and length) by one token at once, for continuous
batching (gen_app/sampling.py). It is batch-invariant: a sequence's result is bit-for-bit the same whatever else
is in the batch, because every matrix product is one row's own (`rowwise_linear`) and attention runs per sequence.
A plain batched `F.linear` is not: its kernel, and so its rounding, changes with the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class KVCache:
    """Per layer, keys and values of the tokens seen so far: (batch, heads, length, head_dim)."""

    keys: list[torch.Tensor | None]
    values: list[torch.Tensor | None]

    @classmethod
    def empty(cls, n_layer: int) -> KVCache:
        return cls([None] * n_layer, [None] * n_layer)

    @property
    def length(self) -> int:
        return 0 if self.keys[0] is None else self.keys[0].shape[2]


def rowwise_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """`F.linear(x, weight, bias)` for rows x (n, in), each row computed on its own (a batch of vector-matrix
    products), so a row's result does not depend on how many rows there are or where it sits."""
    n = x.shape[0]
    w = weight.t().expand(n, *weight.t().shape)
    if bias is None:
        return torch.bmm(x[:, None, :], w)[:, 0]
    return torch.baddbmm(bias.expand(n, 1, bias.shape[0]), x[:, None, :], w)[:, 0]


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int, dropout: float):
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, cache: KVCache | None, layer: int) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_head, c // self.n_head).permute(2, 0, 3, 1, 4)
        if cache is not None:
            if cache.keys[layer] is not None:
                k = torch.cat([cache.keys[layer], k], dim=2)
                v = torch.cat([cache.values[layer], v], dim=2)
            cache.keys[layer], cache.values[layer] = k, v
        past = k.shape[2] - t
        if past == 0:
            y = F.scaled_dot_product_attention(
                q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0
            )
        else:
            # New tokens see every cached token and the new ones up to themselves.
            mask = torch.ones(t, k.shape[2], dtype=torch.bool, device=x.device).tril(diagonal=past)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.proj(y.transpose(1, 2).reshape(b, t, c))

    def step(self, x: torch.Tensor, caches: list[KVCache], layer: int) -> torch.Tensor:
        """One new token per sequence: x (n, C), row i continuing caches[i] (appended to)."""
        n, c = x.shape
        heads = rowwise_linear(x, self.qkv.weight, self.qkv.bias).view(n, 3, self.n_head, 1, c // self.n_head)
        out = []
        for i, cache in enumerate(caches):
            q, k, v = heads[i : i + 1].unbind(1)
            if cache.keys[layer] is not None:
                k = torch.cat([cache.keys[layer], k], dim=2)
                v = torch.cat([cache.values[layer], v], dim=2)
            cache.keys[layer], cache.values[layer] = k, v
            out.append(F.scaled_dot_product_attention(q, k, v).reshape(1, c))  # one query sees all: no mask
        return rowwise_linear(torch.cat(out), self.proj.weight, self.proj.bias)


class Block(nn.Module):
    def __init__(self, n_embd: int, n_head: int, dropout: float):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None, layer: int) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln_1(x), cache, layer))
        return x + self.drop(self.mlp(self.ln_2(x)))

    def step(self, x: torch.Tensor, caches: list[KVCache], layer: int) -> torch.Tensor:
        """`forward` for one new token per sequence (x: (n, C)), batch-invariant (see the module's docstring)."""
        x = x + self.attn.step(self.ln_1(x), caches, layer)
        up, act, down = self.mlp
        h = act(rowwise_linear(self.ln_2(x), up.weight, up.bias))
        return x + rowwise_linear(h, down.weight, down.bias)
