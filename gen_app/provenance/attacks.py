"""What a mark must survive (issue 14): the edits a shared picture or sound meets on its way, as functions. The bench
(bench/provenance.py) measures detection after each; the tests check the mark survives them."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import soundfile
from PIL import Image


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    """`image` saved as JPEG at `quality` and read back."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue()))


def reencode(image: Image.Image) -> Image.Image:
    """A screenshot-like re-encode: WebP at quality 80."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "WEBP", quality=80)
    return Image.open(io.BytesIO(buffer.getvalue()))


IMAGE_ATTACKS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "none": lambda im: im,
    "JPEG 50": lambda im: jpeg(im, 50),
    "half size": lambda im: im.resize((im.width // 2, im.height // 2), Image.BICUBIC),
    "10% crop": lambda im: im.crop((im.width // 20, im.height // 20, im.width * 19 // 20, im.height * 19 // 20)),
    "re-encode (WebP 80)": reencode,
}


def quantise(audio: np.ndarray) -> np.ndarray:
    """`audio` (floats in [-1, 1]) as a 16-bit WAV stores it."""
    return np.round(np.clip(audio, -1, 1) * 32767) / 32767


def mp3(audio: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    """`audio` encoded as a 64 kbit/s mono MP3 (PyPI lameenc) and decoded again: (samples, rate)."""
    import lameenc  # test and bench dependency only

    encoder = lameenc.Encoder()
    encoder.set_bit_rate(64)
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(1)
    data = encoder.encode((np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes()) + encoder.flush()
    return soundfile.read(io.BytesIO(data))
