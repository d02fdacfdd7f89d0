"""Face prior: a small autoregressive transformer over a face's parameters, one token per field (params.py).

p(face) = p(field 1) p(field 2 | field 1) ... : each position predicts the next field's value, its logits
restricted to that field's block of the vocabulary. Sampling field by field with a seeded generator gives a
face per seed on any machine; temperature < 1 trades variety for typical faces (the GAN's truncation);
`allowed` masks restrict chosen fields (a user's "glasses: yes"), and because those fields come first in the
order, everything after them is drawn conditioned on them; the few fields before them are drawn conditioned on
the choice by rejection (`proposals`: see `sample`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from gen_app.transformer import Block, DecodeLayer, KVCache


class FacePrior(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="gen_app",
    repo_url="https://github.com/gen-app/gen_app",
    tags=["faces", "autoregressive", "gen_app"],
    license="apache-2.0",
):
    def __init__(
        self, token_sizes: list[int], n_layer: int = 4, n_head: int = 4, n_embd: int = 128, dropout: float = 0.1
    ):
        super().__init__()
        self.token_sizes = list(token_sizes)
        self.n_layer = n_layer
        offsets = [0]
        for size in token_sizes:
            offsets.append(offsets[-1] + size)
        self.vocab = offsets[-1]
        self.register_buffer("offsets", torch.tensor(offsets[:-1]), persistent=False)
        # Row t: the vocabulary entries of field t (the only ones position t may predict).
        mask = torch.zeros(len(token_sizes), self.vocab, dtype=torch.bool)
        for t, (start, size) in enumerate(zip(offsets, token_sizes, strict=False)):
            mask[t, start : start + size] = True
        self.register_buffer("field_mask", mask, persistent=False)
        self.wte = nn.Embedding(self.vocab + 1, n_embd)  # + a start token
        self.wpe = nn.Embedding(len(token_sizes), n_embd)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(n_embd, n_head, dropout) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, self.vocab)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear):
                nn.init.zeros_(module.bias)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * n_layer))

    @property
    def start_token(self) -> int:
        return self.vocab

    def forward(self, inputs: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Logits (N, t, vocab) for the fields at positions start..start+t, given `inputs` (N, t): the start token
        followed by the global ids of the fields before them. Entries outside each field are -inf."""
        start = cache.length if cache is not None else 0
        t = inputs.shape[1]
        x = self.drop(self.wte(inputs) + self.wpe(torch.arange(start, start + t, device=inputs.device)))
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer)
        logits = self.head(self.ln_f(x))
        return logits.masked_fill(~self.field_mask[start : start + t], float("-inf"))

    def loss(self, tokens: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood in nats per field of `tokens` (N, fields): per-field indices."""
        ids = tokens + self.offsets
        inputs = torch.cat([torch.full_like(ids[:, :1], self.start_token), ids[:, :-1]], dim=1)
        logits = self(inputs)
        return F.cross_entropy(logits.reshape(-1, self.vocab), ids.reshape(-1))

    @torch.inference_mode()  # lighter than no_grad per op, which the sampling loop's many small ones feel
    def sample(
        self,
        generators: list[torch.Generator],
        temperature: float = 1.0,
        allowed: dict[int, torch.Tensor] | None = None,
        proposals: int = 0,
        support: dict[int, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Per-field indices (N, fields), one face per generator (each draws only from its own stream, so a
        face depends on its seed alone). `allowed` maps a field to a bool mask over its values: a user's choice.
        `support` maps a field to the values that may be drawn at all (e.g. those the renderer draws): applied to
        every draw, proposals included, as a plain mask, so it costs nothing.

        A mask alone conditions only the fields after it: fixing "facial hair" would still draw the gender first,
        from p(gender), and pair a beard with a female face half the time, which the data never does. With
        `proposals` > 0 the fields up to the last masked one are drawn from p(those fields | the masks) by
        rejection: each face draws that many unmasked prefixes from its own stream and keeps the first that fits
        every mask (the rest is then drawn after it as usual); a face none of whose proposals fits (a rare choice)
        falls back to the masked draw."""
        support = support or {}
        forced = None
        if allowed and proposals > 0:
            forced = self._fitting_prefixes(generators, temperature, allowed, proposals, support)
        masks = dict(support)
        for t, mask in (allowed or {}).items():
            masks[t] = mask & support[t].to(mask.device) if t in support else mask
        # Each face's uniforms for every field, drawn up front from its own stream (inverse-CDF draws: one generator
        # call per face, where a multinomial per face and field cost more than the network's step).
        fields = len(self.token_sizes)
        uniforms = torch.stack([torch.rand(fields, generator=g, dtype=torch.float64) for g in generators])
        decoder = _FieldDecoder(self, len(generators))
        picks, out = None, []
        for t in range(fields):
            probs = self._field_probs(decoder.logits(t, picks), temperature, masks.get(t))
            picks = _inverse_cdf(probs, uniforms[:, t])
            if forced is not None and t < forced.shape[1]:
                picks = torch.where(forced[:, t] >= 0, forced[:, t], picks)
            out.append(picks)
        return torch.stack(out, dim=1)

    def _field_probs(self, logits: torch.Tensor, temperature: float, mask: torch.Tensor | None = None) -> torch.Tensor:
        """A field's value probabilities (rows, size), float64 on the CPU, from its logits (rows, size), at
        `temperature`, restricted to `mask` when given."""
        logits = logits.float() / max(temperature, 1e-4)
        if mask is not None:
            logits = logits.masked_fill(~mask.to(logits.device), float("-inf"))
        return logits.softmax(dim=-1).cpu().double()

    @torch.inference_mode()
    def _fitting_prefixes(
        self,
        generators: list[torch.Generator],
        temperature: float,
        allowed: dict[int, torch.Tensor],
        proposals: int,
        support: dict[int, torch.Tensor],
    ) -> torch.Tensor:
        """(N, last masked field + 1): per face, the first of its `proposals` prefixes (drawn within `support`) that
        fits every mask of `allowed`, or a row of -1 where none does. Proposal j of face i uses the j-th of the
        numbers face i's generator gives at each field (inverse-CDF draws), so the result depends on the face's seed
        alone."""
        n, last = len(generators), max(allowed)
        decoder = _FieldDecoder(self, n * proposals)
        fits = torch.ones(n * proposals, dtype=torch.bool)
        picks, drawn = None, []
        for t in range(last + 1):
            probs = self._field_probs(decoder.logits(t, picks), temperature, support.get(t))
            uniform = torch.cat([torch.rand(proposals, generator=g, dtype=torch.float64) for g in generators])
            picks = _inverse_cdf(probs, uniform)
            if t in allowed:
                fits &= allowed[t].cpu()[picks]
            drawn.append(picks)
        prefixes = torch.stack(drawn, dim=1).view(n, proposals, last + 1)
        fits = fits.view(n, proposals)
        first = fits.float().argmax(dim=1)  # the first fitting proposal (0 when none fits: masked out below)
        chosen = prefixes[torch.arange(n), first]
        return torch.where(fits.any(dim=1)[:, None], chosen, torch.full_like(chosen, -1))


def _inverse_cdf(probs: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """Per row of `probs` (rows, size), the value whose cumulative interval [F(v-1), F(v)) holds that row's uniform
    number in [0, 1), scaled by the row's total: a draw from the row's distribution. A value of probability 0 has an
    empty interval, so it is never drawn, even at u = 0 or when rounding carries u to the total."""
    cumulative = probs.cumsum(dim=-1)
    picks = (cumulative <= uniform[:, None] * cumulative[:, -1:]).sum(dim=-1)
    last_possible = probs.shape[-1] - 1 - (probs.flip(-1) > 0).int().argmax(dim=-1)
    return torch.minimum(picks, last_possible)


class _FieldDecoder:
    """The prior's logits field by field for `rows` sequences side by side, all at the same field: keys and values
    in tensors allocated once (the fields are few and fixed), and only field t's block of the output layer computed.
    The same numbers as `FacePrior.forward`, at a fraction of its per-step overhead (the sampling loop's cost)."""

    def __init__(self, prior: FacePrior, rows: int):
        self.prior = prior
        self.rows = rows
        first = prior.blocks[0].attn
        head_dim = first.qkv.in_features // first.n_head
        shape = (rows, first.n_head, len(prior.token_sizes), head_dim)
        device = prior.head.weight.device
        self.starts = prior.offsets.tolist()  # each field's first vocabulary entry, read once (not at every step)
        self.layers = [DecodeLayer.of(block) for block in prior.blocks]
        self.keys = [torch.zeros(shape, device=device) for _ in prior.blocks]
        self.values = [torch.zeros(shape, device=device) for _ in prior.blocks]

    def logits(self, t: int, previous: torch.Tensor | None) -> torch.Tensor:
        """Field t's logits (rows, its size), given the previous field's values (rows,) (None at t = 0)."""
        prior = self.prior
        device = prior.head.weight.device
        if previous is None:
            tokens = torch.full((self.rows,), prior.start_token, device=device)
        else:
            tokens = previous.to(device) + self.starts[t - 1]
        x = F.embedding(tokens, prior.wte.weight) + prior.wpe.weight[t]
        for layer, keys, values in zip(self.layers, self.keys, self.values, strict=True):
            x = layer.decode(x, keys, values, t)
        x = F.layer_norm(x, prior.ln_f.normalized_shape, prior.ln_f.weight, prior.ln_f.bias, prior.ln_f.eps)
        block_of_t = slice(self.starts[t], self.starts[t] + prior.token_sizes[t])
        return F.linear(x, prior.head.weight[block_of_t], prior.head.bias[block_of_t])
