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
    return torch.device("cpu")


@contextlib.contextmanager
def cpu_threads(count: int, device: torch.device) -> Iterator[None]:
    """Run the block with `count` intra-op CPU threads when `device` is the CPU (elsewhere: unchanged), then restore
    the setting. Model events run one at a time (one shared queue), so this global setting does not leak into
    another model's call."""
    if device.type != "cpu":
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
