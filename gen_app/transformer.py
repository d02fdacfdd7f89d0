"""Transformer pieces shared by the app's autoregressive models (the text and melody GPT):
pre-LayerNorm blocks of causal self-attention (torch's scaled_dot_product_attention) and a GELU MLP, with a
KV cache so that generation costs one token's work per step instead of re-reading the whole context.

`step` advances several sequences (side by side in a `SlotCache`, each with its own length) by one token at once,
for continuous batching (gen_app/sampling.py). It is batch-invariant: a sequence's result is bit-for-bit the same
whatever else is in the batch (`invariant_linear`, batched matrix products for attention).
"""

from __future__ import annotations

import functools
import math
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


# A matrix product's kernel, and so its rounding, may change with the number of rows: on this CPU a single row (a
# vector-matrix kernel) and 2-3 rows round differently from 4 or more, which all agree row by row on one thread (the
# sampler's, gen_app/sampling.py). So rows are padded to at least MIN_ROWS and one F.linear does them all, 2-3x
# faster than a product per row (8 rows) - where `linear_rows_agree` finds that true on this machine, for this
# weight's shape and thread count; elsewhere each row gets its own product (`rowwise_linear`).
MIN_ROWS = 4
ROWS_CHECKED = (MIN_ROWS, 5, 7, 8, 13, 16, 17, 32, 33)  # the batch sizes continuous batching reaches (16 text users)


@functools.lru_cache(maxsize=64)
def linear_rows_agree(
    out_features: int, in_features: int, bias: bool, dtype: torch.dtype, device: str, threads: int
) -> bool:
    """Whether `F.linear` gives a row the same bits whatever the other rows are, for ROWS_CHECKED rows (at least
    MIN_ROWS), on this machine, for this shape and with `threads` CPU threads (the kernel's choice and its split of
    the work depend on all three; with 2 threads here they do not agree)."""
    generator = torch.Generator().manual_seed(0)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator).to(device=device, dtype=dtype)

    weight, row = rand(out_features, in_features), rand(1, in_features)
    b = rand(out_features) if bias else None
    reference = F.linear(torch.cat([row, rand(MIN_ROWS - 1, in_features)]), weight, b)[0]
    for rows in ROWS_CHECKED:
        for position in {0, rows // 2, rows - 1}:
            x = torch.cat([rand(position, in_features), row, rand(rows - 1 - position, in_features)])
            if not torch.equal(F.linear(x, weight, b)[position], reference):
                return False
    return True


def invariant_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """`F.linear(x, weight, bias)` for rows x (n, in) such that a row's result does not depend on how many rows
    there are or where it sits (see MIN_ROWS)."""
    key = (*weight.shape, bias is not None, weight.dtype, str(weight.device), torch.get_num_threads())
    if not linear_rows_agree(*key):
        return rowwise_linear(x, weight, bias)
    n = x.shape[0]
    if n < MIN_ROWS:
        x = torch.cat([x, x.new_zeros(MIN_ROWS - n, x.shape[1])])
    return F.linear(x, weight, bias)[:n]


class SlotCache:
    """Keys and values of several sequences side by side, for batched one-token steps (`Block.step`): per layer a
    (slots, heads, block_size, head_dim) tensor, sequence i in slot i, filled up to lengths[i] (the rest of a slot
    is stale or zero, and masked out). A sequence enters with the KVCache of its prompt; when one leaves, the last
    slot moves into its place, so the sequences always fill slots 0..len-1."""

    def __init__(self, n_layer: int, n_head: int, head_dim: int, block_size: int, device: torch.device):
        self.shape = (n_head, block_size, head_dim)
        self.device = device
        self.keys = [torch.zeros(0, *self.shape, device=device) for _ in range(n_layer)]
        self.values = [torch.zeros(0, *self.shape, device=device) for _ in range(n_layer)]
        self.lengths: list[int] = []

    def __len__(self) -> int:
        return len(self.lengths)

    def positions(self, device: torch.device) -> torch.Tensor:
        return torch.tensor(self.lengths, device=device)

    def add(self, cache: KVCache) -> int:
        """Put a sequence (its prompt's cache, batch 1) in the next free slot, growing the tensors if need be."""
        slot = len(self.lengths)
        if slot == self.keys[0].shape[0]:
            grow = max(4, slot)  # doubling: a copy now and then, not at every new sequence
            for tensors in (self.keys, self.values):
                for layer, t in enumerate(tensors):
                    tensors[layer] = torch.cat([t, torch.zeros(grow, *self.shape, device=self.device)])
        self.lengths.append(0)
        self.put(slot, cache)
        return slot

    def put(self, slot: int, cache: KVCache) -> None:
        """Replace slot `slot`'s contents with `cache` (batch 1)."""
        length = cache.length
        for layer in range(len(self.keys)):
            self.keys[layer][slot, :, :length] = cache.keys[layer][0]
            self.values[layer][slot, :, :length] = cache.values[layer][0]
        self.lengths[slot] = length

    def remove(self, slot: int) -> None:
        """Drop slot `slot`'s sequence; the last slot's sequence moves into its place."""
        last = len(self.lengths) - 1
        if slot != last:
            for tensors in (self.keys, self.values):
                for t in tensors:
                    t[slot] = t[last]
            self.lengths[slot] = self.lengths[last]
        self.lengths.pop()


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

    def step(self, x: torch.Tensor, slots: SlotCache, positions: torch.Tensor, layer: int) -> torch.Tensor:
        """One new token per sequence: x (n, C), row i continuing slot i of `slots` at `positions[i]` (its length)."""
        n, c = x.shape
        q, k, v = (
            invariant_linear(x, self.qkv.weight, self.qkv.bias).view(n, 3, self.n_head, c // self.n_head).unbind(1)
        )
        rows = torch.arange(n, device=x.device)
        keys, values = slots.keys[layer], slots.values[layer]
        keys[rows, :, positions], values[rows, :, positions] = k, v
        # Attention as two batched matrix products (scaled_dot_product_attention's kernel rounds differently with
        # the batch size); a row sees its own tokens up to the new one, the rest of its slot is masked out.
        scores = q[:, :, None, :] @ keys[:n].transpose(-1, -2) / math.sqrt(c // self.n_head)
        seen = torch.arange(keys.shape[2], device=x.device)[None, :] <= positions[:, None]
        weights = scores.masked_fill(~seen[:, None, None, :], float("-inf")).softmax(-1)
        return invariant_linear((weights @ values[:n]).reshape(n, c), self.proj.weight, self.proj.bias)


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

    def step(self, x: torch.Tensor, slots: SlotCache, positions: torch.Tensor, layer: int) -> torch.Tensor:
        """`forward` for one new token per sequence (x: (n, C)) at `positions` (the slots' lengths), batch-invariant
        (see the module's docstring)."""
        x = x + self.attn.step(self.ln_1(x), slots, positions, layer)
        up, act, down = self.mlp
        h = act(invariant_linear(self.ln_2(x), up.weight, up.bias))
        return x + invariant_linear(h, down.weight, down.bias)
