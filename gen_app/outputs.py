"""Files the app hands to the browser (downloads with metadata), kept in one temp folder and pruned."""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

OUTPUT_DIR = Path(tempfile.gettempdir()) / "gen_app_outputs"
MAX_AGE_SECONDS = 3600


def new_output_path(stem: str, suffix: str) -> Path:
    """A fresh file path for one output; files older than an hour are removed on the way."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - MAX_AGE_SECONDS
    for old in OUTPUT_DIR.iterdir():
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            pass  # another worker removed it first
    return OUTPUT_DIR / f"{stem}-{uuid.uuid4().hex[:8]}{suffix}"
