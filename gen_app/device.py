"""Pick the compute device once for the whole app: CUDA, then Apple MPS, then the CPU."""

from __future__ import annotations

import functools
import os

import torch


@functools.cache
def pick_device() -> torch.device:
    """The device every model runs on; `GEN_APP_DEVICE=cpu` (or cuda, mps) overrides the choice."""
    forced = os.environ.get("GEN_APP_DEVICE")
    if forced:
        return torch.device(forced)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    torch.set_flush_denormal(True)  # denormal values slow CPU convolutions by 10-50x
    return torch.device("cpu")
