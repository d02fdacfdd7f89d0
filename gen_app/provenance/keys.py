"""The watermark key and the switch, defined once for every medium.

The key seeds every pattern and green list: only someone who knows it can find (or forge) the marks, so a
deployment sets its own with GEN_APP_WATERMARK_KEY. GEN_APP_WATERMARK=0 turns marking off, for local research
only (the public UI offers no switch)."""

from __future__ import annotations

import hashlib
import os

DEFAULT_KEY = "gen_app-demo-watermark-key"  # public: anyone can read this repository; set your own in production


def watermark_key() -> str:
    return os.environ.get("GEN_APP_WATERMARK_KEY") or DEFAULT_KEY


def marking_enabled() -> bool:
    return os.environ.get("GEN_APP_WATERMARK", "1") != "0"


def key_seed(medium: str, key: str | None = None) -> int:
    """A 63-bit seed for `medium` ("image", "audio", "text") from the key: each medium gets its own patterns."""
    digest = hashlib.sha256(f"{key or watermark_key()}/{medium}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1
