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

from gen_app.transformer import Block, KVCache


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

    @torch.no_grad()
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
        n = len(generators)
        device = self.head.weight.device
        cache = KVCache.empty(self.n_layer)
        inputs = torch.full((n, 1), self.start_token, device=device)
        out = []
        for t in range(len(self.token_sizes)):
            offset = int(self.offsets[t])
            probs = self._field_probs(self(inputs, cache), t, temperature, masks.get(t))
            picks = torch.stack(
                [
                    forced[i, t]
                    if forced is not None and t < forced.shape[1] and forced[i, t] >= 0
                    # the generator is only drawn from when the face has no fitting prefix to follow
                    else torch.multinomial(probs[i], 1, generator=g)[0]
                    for i, g in enumerate(generators)
                ]
            )
            out.append(picks)
            inputs = (picks + offset).to(device)[:, None]
        return torch.stack(out, dim=1)

    def _field_probs(
        self, outputs: torch.Tensor, t: int, temperature: float, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Field t's value probabilities (rows, size), float64 on the CPU, from the model's last outputs: its block
        of the vocabulary, at `temperature`, restricted to `mask` when given."""
        offset = int(self.offsets[t])
        logits = outputs[:, -1].float()[:, offset : offset + self.token_sizes[t]] / max(temperature, 1e-4)
        if mask is not None:
            logits = logits.masked_fill(~mask.to(logits.device), float("-inf"))
        return logits.softmax(dim=-1).cpu().double()

    @torch.no_grad()
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
        device = self.head.weight.device
        cache = KVCache.empty(self.n_layer)
        inputs = torch.full((n * proposals, 1), self.start_token, device=device)
        fits = torch.ones(n * proposals, dtype=torch.bool)
        drawn = []
        for t in range(last + 1):
            offset, size = int(self.offsets[t]), self.token_sizes[t]
            probs = self._field_probs(self(inputs, cache), t, temperature, support.get(t))
            uniform = torch.cat([torch.rand(proposals, generator=g, dtype=torch.float64) for g in generators])
            picks = (probs.cumsum(dim=-1) < uniform[:, None]).sum(dim=-1).clamp(max=size - 1)
            if t in allowed:
                fits &= allowed[t].cpu()[picks]
            drawn.append(picks)
            inputs = (picks + offset).to(device)[:, None]
        prefixes = torch.stack(drawn, dim=1).view(n, proposals, last + 1)
        fits = fits.view(n, proposals)
        first = fits.float().argmax(dim=1)  # the first fitting proposal (0 when none fits: masked out below)
        chosen = prefixes[torch.arange(n), first]
        return torch.where(fits.any(dim=1)[:, None], chosen, torch.full_like(chosen, -1))
