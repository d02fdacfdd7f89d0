"""Seeds and seeded noise.

Noise is drawn on the CPU with a per-seed `torch.Generator` and only then moved to the model's device, so
a seed gives the same latent (and so the same output) on every device and in every batch position.
Seeds stay within 0..2**32-1: larger integers lose precision in the browser (JavaScript numbers).
"""

from __future__ import annotations

import secrets

import torch

MAX_SEED = 2**32 - 1


def random_seed() -> int:
    return secrets.randbelow(MAX_SEED + 1)


def seed_range(first: int, count: int) -> list[int]:
    """`count` consecutive seeds from `first`, wrapping around at MAX_SEED."""
    return [(first + i) % (MAX_SEED + 1) for i in range(count)]


def latents(seeds: list[int], dim: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """One standard-normal vector of size `dim` per seed, shape (len(seeds), dim)."""
    rows = [torch.randn(dim, generator=torch.Generator().manual_seed(seed)) for seed in seeds]
    return torch.stack(rows).to(device)
