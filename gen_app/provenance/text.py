"""A green-list watermark for generated text (Kirchenbauer et al., "A Watermark for Large Language Models", ICML 2023).

At each step the previous token and the key split the vocabulary pseudo-randomly: a fraction GAMMA of it is "green",
and green tokens get +DELTA on their logits before sampling. Text written by the sampler then holds far more green
tokens than GAMMA; human text holds about GAMMA. The detector re-tokenises a text, counts green tokens and gives a
one-sided z-score and p-value. It needs the key and the tokenizer, not the model.

Each (previous, current) token pair is counted once: a repeated phrase in human text (a refrain, a speaker's name
on every line) would otherwise count its greens over and over ("self-hash" repeats, Kirchenbauer et al. 2024).

GAMMA and DELTA were chosen by measurement (bench/provenance.py; the README's provenance section): at a given cost
in nats per character, a small green list is found more surely (Kirchenbauer et al. 2023, section 4: the bonus
moves more probability onto a few tokens than onto many). On the held-out plays, at a cost of about 0.03 nats/char
the expected z of 200 tokens was 5.2 at GAMMA 0.25 (DELTA 1.0), 6.2 at 0.1 (1.3) and 7.4 at 0.05 (1.7). Smaller
still (0.025) scored higher z, but its green counts are so few that the z-score's Gaussian p-value is far too
small; here the p-value is the exact binomial tail, and "found" needs both z >= Z_THRESHOLD and p <= P_THRESHOLD.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from gen_app.provenance.keys import key_seed

GAMMA = 0.05  # the green fraction of the vocabulary (was 0.25 with DELTA 1.25: +0.049 nats/char, 99.5% found)
DELTA = 1.8  # added to green logits (before temperature); 1.9: +0.038 nats/char, 2.0: +0.044
Z_THRESHOLD = 4.0  # "found" at or above this z-score (one-sided Gaussian p about 3e-5) ...
P_THRESHOLD = 1e-4  # ... and an exact binomial p-value at or below this (a short text's few greens are not Gaussian)
MIN_TOKENS = 16  # fewer scored tokens say nothing either way

_MASK64 = (1 << 64) - 1


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 (wrapping arithmetic): a fast, well-spread hash."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@dataclass(frozen=True)
class GreenList:
    """Which tokens are green after a given token, for one key and vocabulary size."""

    vocab_size: int
    seed: int

    @classmethod
    def for_key(cls, vocab_size: int, key: str | None = None) -> GreenList:
        return cls(vocab_size, key_seed("text", key))

    def greens(self, previous: int) -> np.ndarray:
        """Boolean (vocab_size,): the green tokens after `previous`."""
        with np.errstate(over="ignore"):
            base = _mix(np.array([(self.seed ^ (previous * 0x9E3779B97F4A7C15)) & _MASK64], dtype=np.uint64))
            hashed = _mix(base + np.arange(self.vocab_size, dtype=np.uint64))
        return (hashed >> np.uint64(11)).astype(np.float64) / float(1 << 53) < GAMMA

    @functools.lru_cache(maxsize=512)  # noqa: B019 (few GreenLists live, and as long as the app): a 4 MB cache
    def bias(self, previous: int) -> torch.Tensor:
        """(vocab_size,) float32: DELTA on the green tokens after `previous`, 0 elsewhere (shared: do not modify).
        Cached: hashing the vocabulary again at every token was a third of the sampler's Python time."""
        return torch.from_numpy(self.greens(previous).astype(np.float32) * DELTA)


@dataclass(frozen=True)
class TextMark:
    found: bool
    z: float
    p_value: float
    green: int  # green tokens among the scored ones
    scored: int  # distinct (previous, token) pairs


def detect_tokens(ids: list[int], green_list: GreenList) -> TextMark:
    """Count green tokens in `ids` (each (previous, token) pair once) and test against GAMMA."""
    pairs = {(a, b) for a, b in zip(ids, ids[1:], strict=False) if 0 <= a < green_list.vocab_size}
    green = sum(bool(green_list.greens(a)[b]) for a, b in pairs if 0 <= b < green_list.vocab_size)
    scored = len(pairs)
    if scored < MIN_TOKENS:
        return TextMark(False, 0.0, 1.0, green, scored)
    z = (green - GAMMA * scored) / math.sqrt(scored * GAMMA * (1 - GAMMA))
    p_value = green_tail(green, scored)
    return TextMark(z >= Z_THRESHOLD and p_value <= P_THRESHOLD, z, p_value, green, scored)


def green_tail(green: int, scored: int) -> float:
    """The chance that unmarked text (each token green with chance GAMMA) has at least `green` of `scored` green."""
    from scipy.stats import binom  # imported here: the sampler imports this module, and scipy.stats is slow to load

    return float(binom.sf(green - 1, scored, GAMMA))
