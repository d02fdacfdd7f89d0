"""`@on_gpu`: asks a ZeroGPU Space for a GPU around a model call; a no-op everywhere else."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)

try:  # The `spaces` package exists only on Hugging Face Spaces.
    import spaces
except ImportError:
    spaces = None


def on_gpu(fn: F) -> F:
    return spaces.GPU(fn) if spaces is not None else fn
