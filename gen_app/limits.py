"""Input validation shared by all pipelines.

Pipelines raise `InvalidInput` with a message meant for the person using the app; the UI layer turns it
into a `gr.Error`, so a bad value is explained instead of crashing, and the API returns the same text.
"""

from __future__ import annotations

import math
from typing import Any


class InvalidInput(ValueError):
    """A user-supplied value is out of range or malformed; the message says which and what is allowed."""


def check_int(name: str, value: Any, low: int, high: int) -> int:
    """`value` as an int in [low, high], or InvalidInput. Accepts integral floats and numeric strings."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be a whole number from {low} to {high}, got {value!r}.") from None
    if not math.isfinite(number) or number != int(number):
        raise InvalidInput(f"{name} must be a whole number from {low} to {high}, got {value!r}.")
    # Large integers lose precision through float(); use the exact value when one was given.
    integer = value if isinstance(value, int) and not isinstance(value, bool) else int(number)
    if not low <= integer <= high:
        raise InvalidInput(f"{name} must be from {low} to {high}, got {integer}.")
    return integer


def check_float(name: str, value: Any, low: float, high: float) -> float:
    """`value` as a finite float in [low, high], or InvalidInput."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be a number from {low:g} to {high:g}, got {value!r}.") from None
    if not math.isfinite(number):
        raise InvalidInput(f"{name} must be a finite number from {low:g} to {high:g}, got {value!r}.")
    if not low <= number <= high:
        raise InvalidInput(f"{name} must be from {low:g} to {high:g}, got {number:g}.")
    return number
