"""Input validation shared by all pipelines.

Pipelines raise `InvalidInput` with a message meant for the person using the app; the UI layer turns it
into a `gr.Error`, so a bad value is explained instead of crashing, and the API returns the same text.
"""

from __future__ import annotations

import math
from typing import Any

MAX_SHOWN_CHARS = 60  # a value quoted in a message is cut to about this length


class InvalidInput(ValueError):
    """A user-supplied value is out of range or malformed; the message says which and what is allowed."""


def shown(value: Any) -> str:
    """`value` as a message quotes it: its repr, cut short (a 400-digit number or a 100,000-character text would
    bury the message)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**18:
        return f"a {len(str(abs(value)))}-digit {'negative ' if value < 0 else ''}number"
    text = repr(value)
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 1] + "…"


def check_text(name: str, value: Any) -> str:
    """`value` if it is text that can be written out (UTF-8), or InvalidInput. A lone surrogate (half of a UTF-16
    pair, e.g. "\\udc80", which JSON can carry) is not a character: no encoder, tokenizer or file writer takes it."""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text, got {shown(value)}.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidInput(
            f"{name} holds a character that is not valid Unicode text (U+{ord(value[error.start]):04X}, half of a "
            f"surrogate pair, at character {error.start + 1}): remove it."
        ) from None
    return value


def check_int(name: str, value: Any, low: int, high: int) -> int:
    """`value` as an int in [low, high], or InvalidInput. Accepts integral floats and numeric strings."""
    if isinstance(value, int) and not isinstance(value, bool):
        integer = value  # exact, however large (float() would overflow past 1e308 or lose precision)
    else:
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise InvalidInput(f"{name} must be a whole number from {low} to {high}, got {shown(value)}.") from None
        if not math.isfinite(number) or number != int(number):
            raise InvalidInput(f"{name} must be a whole number from {low} to {high}, got {shown(value)}.")
        integer = int(number)
    if not low <= integer <= high:
        raise InvalidInput(f"{name} must be from {low} to {high}, got {shown(integer)}.")
    return integer


def check_float(name: str, value: Any, low: float, high: float) -> float:
    """`value` as a finite float in [low, high], or InvalidInput."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be a number from {low:g} to {high:g}, got {shown(value)}.") from None
    except OverflowError:  # an integer beyond 1e308
        raise InvalidInput(f"{name} must be from {low:g} to {high:g}, got {shown(value)}.") from None
    if not math.isfinite(number):
        raise InvalidInput(f"{name} must be a finite number from {low:g} to {high:g}, got {shown(value)}.")
    if not low <= number <= high:
        raise InvalidInput(f"{name} must be from {low:g} to {high:g}, got {number:g}.")
    return number
