"""Pick the compute device once for the whole app: CUDA, then Apple MPS, then the CPU."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator

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


@contextlib.contextmanager
def cpu_threads(count: int) -> Iterator[None]:
    """Run the block with `count` intra-op CPU threads, then restore the setting. Model events run one at a time
    (one shared queue), so this global setting does not leak into another model's call."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
