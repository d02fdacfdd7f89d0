"""A small decoder-only transformer (GPT) in the nanoGPT tradition, with a KV cache for fast sampling: the model of
the text tab (Shakespeare) and of the audio tab's composer (ABC tunes), which gen_app/sampling.py samples from.

The blocks (gen_app/transformer.py) are pre-LayerNorm causal self-attention and a GELU MLP; learned absolute
position embeddings; the output layer shares its weights with the token embedding.
`forward(idx, cache, start)` runs a chunk of tokens; with a `KVCache` it appends their keys and values, so
generation costs one token's work per step instead of re-reading the whole context.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from gen_app.transformer import Block, KVCache, SlotCache, invariant_linear


class GPT(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="gen_app",
    tags=["text-generation", "gpt", "shakespeare", "gen_app"],
    license="apache-2.0",
):
    def __init__(
        self,
        vocab_size: int = 96,
        block_size: int = 256,
        n_layer: int = 6,
        n_head: int = 6,
        n_embd: int = 384,
        dropout: float = 0.1,
    ):
        super().__init__()
        self.vocab_size, self.block_size, self.n_layer = vocab_size, block_size, n_layer
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(n_embd, n_head, dropout) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * n_layer))  # GPT-2: scale residual projections

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Logits (batch, t, vocab) for token ids `idx` (batch, t), continuing `cache` if given."""
        start = cache.length if cache is not None else 0
        t = idx.shape[1]
        if start + t > self.block_size:
            raise ValueError(f"{start + t} tokens exceed the context of {self.block_size}")
        pos = torch.arange(start, start + t, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer)
        return F.linear(self.ln_f(x), self.wte.weight)  # weight tying

    def slots(self) -> SlotCache:
        """An empty SlotCache for `step`."""
        n_head = self.blocks[0].attn.n_head
        head_dim = self.wte.weight.shape[1] // n_head
        return SlotCache(self.n_layer, n_head, head_dim, self.block_size, self.wte.weight.device)

    def step(self, tokens: torch.Tensor, slots: SlotCache) -> torch.Tensor:
        """Logits (n, vocab) after one new token per sequence: tokens (n,), token i continuing slot i of `slots`
        (the slots' lengths may differ; each grows by one). Row i's logits are bit-for-bit the same whatever the
        other rows are."""
        if len(tokens) != len(slots):
            raise ValueError(f"{len(tokens)} tokens for {len(slots)} sequences")
        if max(slots.lengths) >= self.block_size:
            raise ValueError(f"a sequence would exceed the context of {self.block_size}")
        positions = slots.positions(tokens.device)
        x = self.wte(tokens) + self.wpe(positions)
        for layer, block in enumerate(self.blocks):
            x = block.step(x, slots, positions, layer)
        slots.lengths = [length + 1 for length in slots.lengths]
        return invariant_linear(self.ln_f(x), self.wte.weight)
