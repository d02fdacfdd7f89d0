"""Files the app hands to the browser (images, downloads with metadata): written once, straight into Gradio's cache
folder, and pruned by age and by total size.

Gradio copies a returned file into its cache unless it is there already, so writing outputs anywhere else would
store every output twice. Files in the cache are also the ones Gradio's `delete_cache` sweep removes (the app
passes it `CACHE_SWEEP`); the size budget here bounds the disk between sweeps, whatever the request rate.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from gradio.utils import get_upload_folder
from PIL import Image

MAX_AGE_SECONDS = 3600  # an output stays downloadable this long
SWEEP_SECONDS = 300  # how often Gradio's sweep looks for cache files older than MAX_AGE_SECONDS
CACHE_SWEEP = (SWEEP_SECONDS, MAX_AGE_SECONDS)  # gr.Blocks(delete_cache=...)
MAX_OUTPUT_BYTES = 2_000_000_000  # past this, the oldest outputs go first
MIN_AGE_SECONDS = 120  # a file younger than this is never pruned by size: its page may still be fetching it


def output_dir() -> Path:
    """The folder outputs are written to: inside Gradio's cache (GRADIO_TEMP_DIR if set), read when called."""
    return Path(get_upload_folder()) / "gen_app_outputs"


def prune(folder: Path, max_age: float = MAX_AGE_SECONDS, max_bytes: int = MAX_OUTPUT_BYTES) -> None:
    """Remove files in `folder` older than `max_age` seconds, then the oldest ones (but none younger than
    MIN_AGE_SECONDS) until the rest take at most `max_bytes`."""
    now = time.time()
    files = []
    for path in folder.iterdir():
        try:
            stat = path.stat()
            if stat.st_mtime < now - max_age:
                path.unlink()
            else:
                files.append((stat.st_mtime, stat.st_size, path))
        except OSError:
            pass  # another worker removed it first
    total = sum(size for _, size, _ in files)
    for mtime, size, path in sorted(files):
        if total <= max_bytes or mtime > now - MIN_AGE_SECONDS:
            break
        path.unlink(missing_ok=True)
        total -= size


def new_output_path(stem: str, suffix: str) -> Path:
    """A fresh file path for one output, in output_dir(); old files are pruned on the way."""
    folder = output_dir()
    folder.mkdir(parents=True, exist_ok=True)
    prune(folder)
    return folder / f"{stem}-{uuid.uuid4().hex[:8]}{suffix}"


def save_for_display(image: Image.Image, stem: str) -> str:
    """A display copy of `image` (a comparison slider's side, a picture) as a PNG file of its own, for an output
    component to show. Given a PIL image, Gradio saves it itself under a name made from its content, rewriting the
    file in place when two requests make the same image (the same example photo, at once); a page still downloading
    the first then gets a truncated file (bench/load.py: "peer closed connection without sending complete message
    body")."""
    path = new_output_path(stem, ".png")
    image.save(path, format="PNG", compress_level=1)  # shown once, then swept: speed over size
    return str(path)
