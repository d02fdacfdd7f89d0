"""Face prior: a small autoregressive recurrent network (a GRU) over a face's parameters, one token per field
(params.py).

p(face) = p(field 1) p(field 2 | field 1) ... : each position predicts the next field's value, its logits
restricted to that field's block of the vocabulary. Sampling field by field with a seeded generator gives a
face per seed on any machine; temperature < 1 trades variety for typical faces (the GAN's truncation);
`allowed` masks restrict chosen fields (a user's "glasses: yes"), and because those fields come first in the
order, everything after them is drawn conditioned on them; the few fields before them are drawn conditioned on
the choice by rejection (`proposals`: see `sample`).

Why a GRU and not a transformer: sampling is 30 sequential steps of one token, and on a CPU each step costs its
weights' memory traffic plus a few microseconds per call. A 4-layer transformer (the text model's blocks) took 15.5
ms for one face, the whole face's budget; a one-layer GRU's step is three small products and a few elementwise calls,
and it models these 30 fields as well (held-out likelihood: the model card).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from threadpoolctl import ThreadpoolController
from torch import nn

# numpy's BLAS (OpenBLAS) wakes its threads even for products of 16 rows, and they then spin on the cores that
# PyTorch's renderer needs next (16 faces took 1.7x as long). One thread does the sampling's products as fast.
_BLAS = ThreadpoolController()


class FacePrior(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="gen_app",
    repo_url="https://github.com/gen-app/gen_app",
    tags=["faces", "autoregressive", "gen_app"],
    license="apache-2.0",
):
    def __init__(
        self, token_sizes: list[int], hidden: int = 128, n_layer: int = 1, n_embd: int = 64, dropout: float = 0.1
    ):
        super().__init__()
        self.token_sizes = list(token_sizes)
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
        # A token's global id says which field it is, so the network needs no position embedding.
        self.wte = nn.Embedding(self.vocab + 1, n_embd)  # + a start token
        self.drop = nn.Dropout(dropout)
        self.gru = nn.GRU(n_embd, hidden, num_layers=n_layer, batch_first=True, dropout=dropout if n_layer > 1 else 0)
        self.head = nn.Linear(hidden, self.vocab)

    @property
    def start_token(self) -> int:
        return self.vocab

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits (N, t, vocab) for the first t fields, given `inputs` (N, t): the start token followed by the global
        ids of the fields before each. Entries outside each field are -inf."""
        y, _ = self.gru(self.drop(self.wte(inputs)))
        logits = self.head(self.drop(y))
        return logits.masked_fill(~self.field_mask[: inputs.shape[1]], float("-inf"))

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
        with _BLAS.limit(limits=1, user_api="blas"):
            return self._sample(generators, temperature, allowed or {}, proposals, support or {})

    def _sample(
        self,
        generators: list[torch.Generator],
        temperature: float,
        allowed: dict[int, torch.Tensor],
        proposals: int,
        support: dict[int, torch.Tensor],
    ) -> torch.Tensor:
        support = {t: mask.cpu().numpy() for t, mask in support.items()}
        allowed = {t: mask.cpu().numpy() for t, mask in allowed.items()}
        forced = None
        if allowed and proposals > 0:
            forced = self._fitting_prefixes(generators, temperature, allowed, proposals, support)
        masks = dict(support)
        for t, mask in allowed.items():
            masks[t] = mask & support[t] if t in support else mask
        # Each face's uniforms for every field, drawn up front from its own stream (inverse-CDF draws: one generator
        # call per face, where a multinomial per face and field cost more than the network's step).
        fields = len(self.token_sizes)
        uniforms = torch.stack([torch.rand(fields, generator=g, dtype=torch.float64) for g in generators]).numpy()
        decoder = _FieldDecoder(self, len(generators))
        picks, out = None, []
        for t in range(fields):
            weights = _field_weights(decoder.logits(t, picks), temperature, masks.get(t))
            picks = _inverse_cdf(weights, uniforms[:, t])
            if forced is not None and t < forced.shape[1]:
                picks = np.where(forced[:, t] >= 0, forced[:, t], picks)
            out.append(picks)
        return torch.from_numpy(np.stack(out, axis=1))

    @torch.inference_mode()
    def _fitting_prefixes(
        self,
        generators: list[torch.Generator],
        temperature: float,
        allowed: dict[int, np.ndarray],
        proposals: int,
        support: dict[int, np.ndarray],
    ) -> np.ndarray:
        """(N, last masked field + 1): per face, the first of its `proposals` prefixes (drawn within `support`) that
        fits every mask of `allowed`, or a row of -1 where none does. Proposal j of face i uses the j-th of the
        numbers face i's generator gives at each field (inverse-CDF draws), so the result depends on the face's seed
        alone."""
        n, last = len(generators), max(allowed)
        decoder = _FieldDecoder(self, n * proposals)
        fits = np.ones(n * proposals, dtype=bool)
        picks, drawn = None, []
        for t in range(last + 1):
            uniform = torch.cat([torch.rand(proposals, generator=g, dtype=torch.float64) for g in generators]).numpy()
            picks = _inverse_cdf(_field_weights(decoder.logits(t, picks), temperature, support.get(t)), uniform)
            if t in allowed:
                fits &= allowed[t][picks]
            drawn.append(picks)
        prefixes = np.stack(drawn, axis=1).reshape(n, proposals, last + 1)
        fits = fits.reshape(n, proposals)
        first = fits.argmax(axis=1)  # the first fitting proposal (0 when none fits: masked out below)
        chosen = prefixes[np.arange(n), first]
        return np.where(fits.any(axis=1)[:, None], chosen, -1)


def _field_weights(logits: np.ndarray, temperature: float, mask: np.ndarray | None = None) -> np.ndarray:
    """A field's value probabilities (rows, size) up to each row's scale (what an inverse-CDF draw needs), in float64,
    from its logits (rows, size), at `temperature`, restricted to `mask` when given."""
    logits = logits.astype(np.float64) / max(temperature, 1e-4)
    if mask is not None:
        logits[:, ~mask] = -np.inf
    logits -= logits.max(axis=1, keepdims=True)
    return np.exp(logits, out=logits)


def _inverse_cdf(weights: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """Per row of `weights` (rows, size: probabilities up to the row's scale), the value whose cumulative interval
    [F(v-1), F(v)) holds that row's uniform number in [0, 1), scaled by the row's total: a draw from the row's
    distribution. A value of weight 0 has an empty interval, so it is never drawn, even at u = 0 or when rounding
    carries u to the total (the point is kept below the total: the first value whose F passes it then always has a
    weight above 0)."""
    cumulative = np.cumsum(weights, axis=1)
    total = cumulative[:, -1]
    point = np.minimum(uniform * total, np.nextafter(total, 0))
    return (cumulative <= point[:, None]).sum(axis=1)


GRU_TENSORS = ("weight_ih", "bias_ih", "weight_hh", "bias_hh")  # a torch.nn.GRU layer's, each + f"_l{layer}"


class _FieldDecoder:
    """The prior's logits field by field for `rows` sequences side by side, all at the same field: the GRU's cell one
    step at a time, in numpy on the CPU, and only field t's block of the output layer computed. The same numbers as
    `FacePrior.forward` up to float32 rounding. Why numpy: a step is a few products and elementwise calls on vectors of
    a few hundred numbers, where each PyTorch call's fixed cost (3-5 us here) was twice the work."""

    def __init__(self, prior: FacePrior, rows: int):
        gru = prior.gru

        def array(tensor: torch.Tensor) -> np.ndarray:
            return tensor.detach().cpu().numpy()

        self.start_token = prior.start_token
        self.starts, self.sizes = prior.offsets.tolist(), prior.token_sizes
        self.embedding = array(prior.wte.weight)
        # Weights transposed (views): products are rows @ weight.T, as F.linear computes them.
        self.layers = []
        for layer in range(gru.num_layers):
            w_ih, b_ih, w_hh, b_hh = (array(getattr(gru, f"{name}_l{layer}")) for name in GRU_TENSORS)
            self.layers.append((w_ih.T, b_ih, w_hh.T, b_hh))
        self.head_weight, self.head_bias = array(prior.head.weight).T, array(prior.head.bias)
        self.states = [np.zeros((rows, gru.hidden_size), dtype=np.float32) for _ in self.layers]

    def logits(self, t: int, previous: np.ndarray | None) -> np.ndarray:
        """Field t's logits (rows, its size), given the previous field's values (rows,) (None at t = 0)."""
        rows = len(self.states[0])
        tokens = np.full(rows, self.start_token) if previous is None else previous + self.starts[t - 1]
        x = self.embedding[tokens]
        for layer, (w_ih, b_ih, w_hh, b_hh) in enumerate(self.layers):
            state = self.states[layer]
            x = self.states[layer] = _gru_cell(state, x @ w_ih + b_ih, state @ w_hh + b_hh)
        block_of_t = slice(self.starts[t], self.starts[t] + self.sizes[t])
        return x @ self.head_weight[:, block_of_t] + self.head_bias[block_of_t]


def _gru_cell(state: np.ndarray, from_input: np.ndarray, from_state: np.ndarray) -> np.ndarray:
    """torch.nn.GRU's next state from the previous `state` (rows, H) and the input's and state's products (each
    (rows, 3H): reset, update and new-gate parts, biases included)."""
    hidden = state.shape[1]
    # sigmoid(x) = (1 + tanh(x / 2)) / 2: no overflow for large |x| (as 1 / (1 + exp(-x)) has).
    gates = np.tanh((from_input[:, : 2 * hidden] + from_state[:, : 2 * hidden]) * 0.5)
    gates += 1
    gates *= 0.5
    reset, update = gates[:, :hidden], gates[:, hidden:]
    new = np.tanh(from_input[:, 2 * hidden :] + reset * from_state[:, 2 * hidden :])
    return new + update * (state - new)  # (1 - update) * new + update * state
