"""An invisible image watermark that survives JPEG, resizing to half, cropping and re-encoding.

Why not PyPI `invisible-watermark` (imwatermark, the DWT-DCT(-SVD) coder of Stable Diffusion's scripts): measured
here on generated images, its bits did not survive JPEG quality 50 (dwtDct 40-44% bit accuracy, dwtDctSvd 71-81%),
a half-size resize (42-50%: chance) or a 10% crop (40-50%), and it refuses images under 256x256 (every face).

This one is the classic tiled spread-spectrum design (Kalker et al.'s tiled watermarks; phase-only correlation as in
image registration): a key-seeded noise tile of TILE x TILE pixels, band-limited to frequencies that JPEG and a
half-size resize keep, is repeated over the whole image and added to its luminance, so

- a crop only shifts the tile (the detector folds the image modulo TILE and searches every shift at once by FFT);
- a resize to half is undone by trying the detector at SCALES;
- JPEG and re-encoding leave the low band mostly intact, and every tile adds its evidence.

The payload (the tab and a 10-bit id) is the shift of a second, fainter tile relative to the first: TILE * TILE =
4,096 values, read only when its own peak is clear (PAYLOAD_Z). Only the key's tiles are found, so a detection also
says "gen_app with this key".

Two refinements make it invisible where the eye would see it and strong where the codecs would remove it:

- perceptual mask: the mark follows the image's local texture (its local RMS detail, TEXTURE_REF grey levels = 1x),
  from MASK_RANGE[0]x on flat areas (a plain cheek, a sky) up to MASK_RANGE[1]x in texture (hair, foliage, brush
  strokes), then rescaled so that the image's mean mark power stays strength**2 (the PSNR cost is unchanged): a flat
  patch in a busy image gets a faint mark, a uniformly flat image keeps the whole strength;
- strength fitted to the image's size: an image under SIZE_REF x SIZE_REF pixels holds fewer tiles, so its mark is
  stronger by sqrt(SIZE_REF**2 / area), at most SIZE_BOOST_MAX (at 213 x 213 pixels and under).

The detector divides the image by its own local texture (+ NORM_FLOOR grey levels) before folding, so that busy
areas, where the host is loud, do not drown the quiet areas' evidence.

The p-value is nominal (a Gaussian null, corrected for the shifts and scales searched); "found" uses Z_THRESHOLD,
checked against the false positives that bench/provenance.py measures on real photos.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image
from scipy import ndimage

from gen_app.provenance.keys import key_seed

TILE = 64  # pixels; the payload is a shift within the tile, so TILE * TILE values
BAND = (4.0, 20.0)  # cycles per tile: 1/16 to 5/16 cycles per pixel (compared on faces and photos: 32/2-6, 64/4-16)
STRENGTH = 2.5  # RMS of the mark in 8-bit grey levels (PSNR about 40 dB)
# x2 super-resolution output is compared with the original (its bench) at about 32 dB: at 2.5 it lost 0.79 dB, over
# the 0.5 dB allowed, so its mark is fainter (x4, at about 27.6 dB, loses 0.28 dB at 2.5).
# Faces (always 256 px) are marked at 2.0 x size_boost = 2.5.
MODEL_STRENGTH = {"sr-x2": 1.7, "faces": 2.0}
# Smaller images get a stronger mark (fewer tiles), at most this much stronger: the x2 upscale of the tab's 128 px
# example (256 px) was found at z 5.5 after JPEG 50 and 5.4 after a resize to half at 1.7 (under Z_THRESHOLD), at
# 7.3 and 6.6 at 1.7 x 1.25.
SIZE_REF, SIZE_BOOST_MAX = 320, 1.5
TEXTURE_REF = 4.0  # local RMS detail (grey levels) at which the mask is 1x
MASK_RANGE = (0.3, 3.0)  # the mask's span from flat to busy, before its rescaling to the image's mean power
# Marked evenly: x2 upscales are small and faint (MODEL_STRENGTH), and a masked mark left their flat areas (skies,
# walls) too faint for JPEG 50 and WebP 80 (2 of 30 lost, even at a (0.8, 2.0) span; none unmasked); paintings are
# texture throughout, where the mask changes little, and it lost 2 of 60 after a resize to half (none unmasked).
MODEL_MASK_RANGE = {"sr-x2": (1.0, 1.0), "style": (1.0, 1.0)}
MASK_MARGIN = 16  # rows either side of a band that its mask depends on (the texture filters' reach)
MASK_STEPS = 64  # the mask is kept as uint8 in steps of 1/64 between its two passes (a 67-megapixel upscale)
NORM_FLOOR = 4.0  # the detector divides the image by its local texture plus this (grey levels)
SCALES = (1.0, 2.0)  # the detector tries the image as it is and enlarged 2x (undoes a resize to half)
MAX_DETECT_SIDE = 1024  # the detector reads at most this central square (more tiles add little, and cost time)
# "found" at or above this peak (nominal p 8e-6); see bench/provenance.py for real photos. The texture-normalising
# detector's null has a longer tail than its nominal Gaussian: over 552 unmarked real images as they are, after
# JPEG 50 and after WebP 80 (1,656), the highest peak was 5.56 (the threshold was 5.5); the marked outputs' lowest after
# JPEG 50 was 6.7.
Z_THRESHOLD = 6.0
SYNC_SHARE = 0.8  # the sync tile's amplitude (the payload's is the rest of unit power): finding the mark comes first
PAYLOAD_Z = 5.0  # the payload is read only when its own peak reaches this (else "unreadable", never a guess)
SUBPIXEL = 0.25  # a sync peak further than this from a whole pixel (pixels) is read between pixels ...
PAYLOAD_OFFSET = 0.3  # ... and the payload then only when its own peak lies within this of a whole pixel
TABS = ("other", "faces", "style", "sr")  # the payload's tab field (2 bits); the rest is an id
ID_VALUES = TILE * TILE // len(TABS)


@dataclass(frozen=True)
class ImageMark:
    found: bool
    p_value: float  # the chance that an unmarked image scores this high at some shift and scale
    z: float  # the correlation peak in standard deviations
    scale: float  # the scale at which it was found
    tab: str | None  # from the payload, when found and readable
    mark_id: int | None


@lru_cache(maxsize=4)
def tiles(key: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The two key-seeded tiles (sync, payload), each band-limited and scaled to unit RMS."""
    rng = np.random.default_rng(key_seed("image", key))
    mask = band_mask()
    out = []
    for _ in range(2):
        spectrum = np.fft.fft2(rng.standard_normal((TILE, TILE))) * mask
        tile = np.real(np.fft.ifft2(spectrum))
        out.append((tile / tile.std()).astype(np.float32))
    return out[0], out[1]


@lru_cache(maxsize=1)
def band_mask() -> np.ndarray:
    f = np.fft.fftfreq(TILE) * TILE  # cycles per tile
    radius = np.hypot(f[:, None], f[None, :])
    # Leave out the rows and columns at multiples of 1/8 cycle per pixel (the axes too): JPEG's 8x8 block edges put
    # energy there in any JPEG-compressed photo, which would look like a mark.
    grid = (f % (TILE // 8) == 0)[:, None] | (f % (TILE // 8) == 0)[None, :]
    return ((radius >= BAND[0]) & (radius <= BAND[1]) & ~grid).astype(np.float32)


def payload_of(tab: str, mark_id: int) -> int:
    return (TABS.index(tab) if tab in TABS else 0) * ID_VALUES + mark_id % ID_VALUES


def mark_pattern(payload: int, key: str | None = None) -> np.ndarray:
    """One TILE x TILE tile of the mark for `payload` (0 .. TILE * TILE - 1), unit RMS."""
    sync, data = tiles(key)
    shift = divmod(payload % (TILE * TILE), TILE)
    # An equal split (0.71 each) found 58% of small x2 upscales after JPEG 50, this one 71%; style 94% -> 100%.
    pattern = SYNC_SHARE * sync + math.sqrt(1 - SYNC_SHARE**2) * np.roll(data, shift, axis=(0, 1))
    return pattern / pattern.std()


def strength_for(model: str) -> float:
    """The mark's strength for an image made by the model named `model` (e.g. "gen_app sr-x2")."""
    return next((value for name, value in MODEL_STRENGTH.items() if name in model), STRENGTH)


def size_boost(width: int, height: int) -> float:
    """How much stronger the mark of a `width` x `height` image is than its model's strength (1 to SIZE_BOOST_MAX)."""
    return min(SIZE_BOOST_MAX, max(1.0, math.sqrt(SIZE_REF * SIZE_REF / max(1, width * height))))


def texture(grey: np.ndarray, sigma: float = 3.0) -> np.ndarray:
    """Local RMS detail of `grey` (grey levels): the image minus its blur (sigma 1 pixel), squared, blurred."""
    detail = grey - ndimage.gaussian_filter(grey, 1.0)
    return np.sqrt(ndimage.gaussian_filter(detail * detail, sigma))


def box_texture(grey: np.ndarray) -> np.ndarray:
    """texture(grey) with box filters of about the same widths (3 and 11 pixels): twice as fast, for the mask (8
    faces took 26 ms more to mark with Gaussian filters, 13% of the tab's work)."""
    detail = grey - ndimage.uniform_filter(grey, 3)
    # A box filter's running sums can leave a flat area's mean square a hair below 0 (no square root).
    return np.sqrt(np.maximum(ndimage.uniform_filter(detail * detail, 11), 0))


def grey_levels(pixels: np.ndarray, mode: str) -> np.ndarray:
    """The luminance of an array of `mode` pixels, 0..255 float32."""
    if mode == "I;16":
        return pixels.astype(np.float32) / 257.0
    if pixels.ndim == 2:
        return pixels.astype(np.float32)
    if mode == "LA":
        return pixels[..., 0].astype(np.float32)
    return pixels[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def mark_mask(pixels: np.ndarray, mode: str, mask_range: tuple[float, float] = MASK_RANGE) -> list[np.ndarray]:
    """The perceptual mask, one uint8 array (in 1/MASK_STEPS) per band of TILE rows: the local texture over
    TEXTURE_REF, clipped to `mask_range`, rescaled to a mean square of 1 over the image."""
    h = pixels.shape[0]
    pieces, power = [], 0.0
    # A small image (up to 4 megapixels) in one piece: its bands' margins would cost half as much again. A large one
    # in bands of TILE rows, kept as float16 until the image's power is known (a 67-megapixel upscale: 134 MB).
    step = h if h * pixels.shape[1] <= 4_000_000 else TILE
    for top in range(0, h, step):
        start, stop = max(0, top - MASK_MARGIN), min(h, top + step + MASK_MARGIN)
        mask = np.clip(box_texture(grey_levels(pixels[start:stop], mode)) / TEXTURE_REF, *mask_range)
        mask = mask[top - start : top - start + min(step, h - top)]
        power += float(np.sum(np.square(mask, dtype=np.float64)))
        pieces.append(mask if step == h else mask.astype(np.float16))
    scale = MASK_STEPS / math.sqrt(power / (h * pixels.shape[1]))
    bands = [pieces[0][top : top + TILE] for top in range(0, h, TILE)] if step == h else pieces
    return [np.round(np.minimum(band * scale, mask_range[1] * MASK_STEPS)).astype(np.uint8) for band in bands]


def mask_range_for(model: str) -> tuple[float, float]:
    """The perceptual mask's span for an image made by the model named `model`."""
    return next((value for name, value in MODEL_MASK_RANGE.items() if name in model), MASK_RANGE)


def embed_image(
    image: Image.Image,
    tab: str = "other",
    mark_id: int = 0,
    key: str | None = None,
    strength: float = STRENGTH,
    mask_range: tuple[float, float] = MASK_RANGE,
) -> Image.Image:
    """`image` with the mark added to its luminance (same size and mode; alpha untouched), following its texture
    (mark_mask), `strength` times size_boost grey levels RMS."""
    mode = image.mode
    if mode not in ("RGB", "RGBA", "L", "LA", "I;16"):
        image = image.convert("RGBA" if "A" in mode or "transparency" in image.info else "RGB")
        mode = image.mode
    peak = 65535 if mode == "I;16" else 255
    pixels = np.array(image)  # the output, written band by band
    h, w = pixels.shape[:2]
    strength = strength * size_boost(w, h) * (peak / 255) / MASK_STEPS
    tile = mark_pattern(payload_of(tab, mark_id), key) * np.float32(strength)
    row = np.tile(tile, (1, -(-w // TILE)))[:, :w]  # one band of tiles across the width
    colour = 1 if mode == "LA" else 3  # the same amount on R, G and B moves only the luminance
    # A band of TILE rows at a time: a whole-image integer copy of a 67-megapixel upscale took over 1 GB.
    bands = range(0, h, TILE)
    # An even mark (a span of one value) needs no mask: its texture filters took 0.3 s on a 4-megapixel upscale.
    masks = mark_mask(pixels, mode, mask_range) if mask_range[0] < mask_range[1] else [MASK_STEPS] * len(bands)
    for top, mask in zip(bands, masks, strict=True):
        band = pixels[top : top + TILE]
        delta = np.round(row[: band.shape[0]] * mask).astype(np.int32)
        if band.ndim == 2:
            band[:] = np.clip(band.astype(np.int32) + delta, 0, peak)
        else:
            band[..., :colour] = np.clip(band[..., :colour].astype(np.int32) + delta[..., None], 0, peak)
    return Image.fromarray(pixels, None if mode == "I;16" else mode)


def normalised(grey: np.ndarray) -> np.ndarray:
    """`grey` divided by its local texture (+ NORM_FLOOR): each area's evidence weighs by how quiet the host is."""
    return grey / (texture(grey, 4.0) + NORM_FLOOR)


def luminance(image: Image.Image) -> np.ndarray:
    """Grey levels 0..255, float32."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return np.asarray(image.convert("I"), dtype=np.float32) / 257.0
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    pixels = np.asarray(image, dtype=np.float32)
    return pixels if pixels.ndim == 2 else pixels @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def folded_spectrum(grey: np.ndarray) -> np.ndarray | None:
    """Phase of the image folded modulo TILE, in the mark's band (None: smaller than a tile)."""
    h, w = (grey.shape[0] // TILE) * TILE, (grey.shape[1] // TILE) * TILE
    if h == 0 or w == 0:
        return None
    grey = grey[:h, :w] - grey[:h, :w].mean()
    folded = grey.reshape(h // TILE, TILE, w // TILE, TILE).sum(axis=(0, 2))
    spectrum = np.fft.fft2(folded)
    return spectrum / np.maximum(np.abs(spectrum), 1e-9) * band_mask()


def correlation(phase: np.ndarray, tile: np.ndarray) -> np.ndarray:
    """Phase-only correlation of the folded image with `tile` at every cyclic shift, in standard deviations."""
    reference = np.fft.fft2(tile)
    reference = reference / np.maximum(np.abs(reference), 1e-9)
    surface = np.real(np.fft.ifft2(phase * np.conj(reference)))
    # Under no mark, each value is a sum of unit phasors with random angles (in conjugate pairs): mean 0, this
    # standard deviation.
    sigma = math.sqrt(band_mask().sum()) / (TILE * TILE)
    return surface / sigma


def peak_position(surface: np.ndarray) -> tuple[float, float]:
    """The highest point of a cyclic correlation surface, to a fraction of a pixel (a parabola through the peak and
    its two neighbours along each axis)."""
    y, x = np.unravel_index(int(surface.argmax()), surface.shape)

    def offset(before: float, peak: float, after: float) -> float:
        curvature = before - 2 * peak + after
        return 0.5 * (before - after) / curvature if curvature < 0 else 0.0

    n = TILE
    dy = offset(surface[(y - 1) % n, x], surface[y, x], surface[(y + 1) % n, x])
    dx = offset(surface[y, (x - 1) % n], surface[y, x], surface[y, (x + 1) % n])
    return y + float(dy), x + float(dx)


def central(grey: np.ndarray, side: int) -> np.ndarray:
    h, w = grey.shape
    top, left = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return grey[top : top + side, left : left + side]


def detect_image(image: Image.Image, key: str | None = None) -> ImageMark:
    """Look for the mark at every shift and at each of SCALES."""
    sync, data = tiles(key)
    grey = luminance(image)
    best = (-math.inf, 1.0, None)
    for scale in SCALES:
        view = normalised(central(grey, math.ceil(MAX_DETECT_SIDE / scale)))
        if scale != 1.0:
            h, w = view.shape
            view = np.asarray(Image.fromarray(view, "F").resize((round(w * scale), round(h * scale)), Image.BICUBIC))
        phase = folded_spectrum(view)
        if phase is None:
            continue
        surface = correlation(phase, sync)
        z = float(surface.max())
        if z > best[0]:
            best = (z, scale, (phase, np.unravel_index(int(surface.argmax()), surface.shape)))
    z, scale, found_at = best
    if found_at is None:
        return ImageMark(False, 1.0, 0.0, 1.0, None, None)
    tests = TILE * TILE * len(SCALES)
    p_value = min(1.0, tests * 0.5 * math.erfc(z / math.sqrt(2)))
    found = z >= Z_THRESHOLD
    tab, mark_id = None, None
    if found:
        phase, _ = found_at
        sync_surface = correlation(phase, sync)
        y1, x1 = peak_position(sync_surface)
        if max(abs(y1 - round(y1)), abs(x1 - round(x1))) <= SUBPIXEL:
            # The sync peak is on a whole pixel: the payload is the data peak's shift from it.
            payload_surface = correlation(phase, data)
            y2, x2 = peak_position(payload_surface)
            y2, x2 = y2 - round(y1), x2 - round(x1)
        else:
            # Between pixels (after a resize to half and back, both peaks sit half a pixel off, and two rounded peaks
            # could each round their own way): the image is shifted back by the sync peak's refined position.
            f = np.fft.fftfreq(TILE) * TILE
            aligned = phase * np.exp(2j * np.pi * (f[:, None] * y1 + f[None, :] * x1) / TILE)
            payload_surface = correlation(aligned, data)
            y2, x2 = peak_position(payload_surface)
        # Read only a clear peak near a whole pixel: one between two pixels could be either (a wrong id).
        if payload_surface.max() >= PAYLOAD_Z and max(abs(y2 - round(y2)), abs(x2 - round(x2))) <= PAYLOAD_OFFSET:
            payload = (round(y2) % TILE) * TILE + round(x2) % TILE
            tab, mark_id = TABS[payload // ID_VALUES], payload % ID_VALUES
    return ImageMark(found, p_value, z, scale, tab, mark_id)
