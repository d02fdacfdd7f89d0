"""Image helpers shared by the tabs: tensors to PIL, grids, and PNGs that carry their parameters and a watermark."""

from __future__ import annotations

import io
import json
import zlib
from pathlib import Path
from typing import Any

import torch
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError
from PIL.ExifTags import Base

from gen_app.limits import InvalidInput
from gen_app.provenance.credentials import with_credentials
from gen_app.provenance.image import ID_VALUES, TABS, embed_image, mask_range_for, strength_for
from gen_app.provenance.keys import marking_enabled

ORIENTATION = Base.Orientation
MIN_DRAFT_SIDE = 64  # a JPEG is never decoded with a side shorter than this (or than it is)


def tensor_to_pil(images: torch.Tensor) -> list[Image.Image]:
    """(N, 3, H, W) in [-1, 1] -> N RGB PIL images (values outside the range are clipped)."""
    array = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return [Image.fromarray(a.permute(1, 2, 0).numpy()) for a in array]


def image_grid(images: list[Image.Image], columns: int) -> Image.Image:
    """Tile equally sized images row by row, `columns` to a row."""
    w, h = images[0].size
    rows = -(-len(images) // columns)
    grid = Image.new("RGB", (columns * w, rows * h), "white")
    for i, image in enumerate(images):
        grid.paste(image, ((i % columns) * w, (i // columns) * h))
    return grid


def png_metadata(params: dict[str, Any], watermark: dict[str, Any] | None = None) -> PngImagePlugin.PngInfo:
    """PNG text chunks: the generation parameters as JSON, an explicit AI-generated mark, and the invisible
    watermark's payload when there is one (its own chunk: the parameters stay what the request asked for)."""
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", json.dumps(params, sort_keys=True))
    info.add_text("Software", "gen_app")
    info.add_text("Comment", "AI-generated image (gen_app)")
    info.add_text("ai_generated", "true")
    if watermark is not None:
        info.add_text("watermark", json.dumps(watermark, sort_keys=True))
    return info


def mark_payload(params: dict[str, Any]) -> tuple[str, int]:
    """The watermark's payload for an image made with `params`: its tab (from the model's name) and an id (a hash
    of the parameters, so the same settings give the same file)."""
    model = str(params.get("model", ""))
    tab = next((t for t in TABS[1:] if t in model), TABS[0])
    return tab, zlib.crc32(json.dumps(params, sort_keys=True).encode()) % ID_VALUES


def save_png(image: Image.Image, path: str | Path, params: dict[str, Any]) -> Path:
    """Save `image` as PNG with `params` in its text chunks, the invisible watermark in its pixels
    (gen_app/provenance/image.py) and signed content credentials (C2PA); returns the path."""
    path = Path(path)
    marked = marking_enabled()
    watermark = None
    if marked:
        tab, mark_id = mark_payload(params)
        model = str(params.get("model", ""))
        image = embed_image(image, tab, mark_id, strength=strength_for(model), mask_range=mask_range_for(model))
        watermark = {"tab": tab, "id": mark_id}
    # Big images (tens of megapixels from super-resolution) would take many seconds at the default level. A marked
    # image is noisy to zlib: level 6 took 3x as long as on the unmarked image, for files only 15% smaller than
    # level 1 (8 faces: 166 vs 48 ms, 65 vs 77 kB each; unmarked at level 6: 56 ms, 26 kB).
    level = 6 if not marked and image.width * image.height <= 4_000_000 else 1
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=png_metadata(params, watermark), compress_level=level)
    data = buffer.getvalue()
    if marked:
        data = with_credentials(data, "image/png", path.name, params)
    path.write_bytes(data)
    return path


def save_gif(frames: list[Image.Image], path: str | Path, params: dict[str, Any], frame_ms: int) -> Path:
    """Save `frames` as a looping GIF animation, each frame with the invisible watermark (it survives the GIF
    palette: z 14 on a morph's frames), with `params` in its comment and signed content credentials; returns the
    path."""
    path = Path(path)
    marked = marking_enabled()
    if marked:
        tab, mark_id = mark_payload(params)
        model = str(params.get("model", ""))
        frames = [
            embed_image(frame, tab, mark_id, strength=strength_for(model), mask_range=mask_range_for(model))
            for frame in frames
        ]
    buffer = io.BytesIO()
    frames[0].save(
        buffer, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0, comment=str(params)
    )
    data = buffer.getvalue()
    if marked:
        data = with_credentials(data, "image/gif", path.name, params)
    path.write_bytes(data)
    return path


def read_png_parameters(path: str | Path) -> dict[str, Any]:
    """The parameters that `save_png` stored in a PNG."""
    with Image.open(path) as image:
        return json.loads(image.text["parameters"])


def header_pixels(source: str | Path | None) -> int:
    """The pixel count an image file says it has (read from its header, nothing decoded); 0 if it cannot say."""
    try:
        with Image.open(source) as image:
            return image.width * image.height
    except Exception:  # not an image, not a file: the pipeline that opens it says what is wrong
        return 0


def open_user_image(
    source: str | Path | Image.Image, max_pixels: int, max_side: int, shrink_to: int | None = None
) -> Image.Image:
    """An uploaded image, upright (EXIF orientation applied) and loaded, or InvalidInput saying what is wrong.

    The size is checked from the header, before the pixels are decoded, so an oversized upload is refused
    without using the memory it would take. `shrink_to`: the caller only needs this many pixels on the longest
    side, so a JPEG may be decoded at 1/2, 1/4 or 1/8 of its size (never below `shrink_to`): a 25-megapixel photo
    then costs 2 MB instead of 100. `info["original_size"]` is the upright size of the image as uploaded.
    """
    if source is None:
        raise InvalidInput("Please upload an image first (or pick an example).")
    try:
        image = source if isinstance(source, Image.Image) else Image.open(source)
    except (UnidentifiedImageError, Image.DecompressionBombError) as error:
        if isinstance(error, Image.DecompressionBombError):
            raise InvalidInput(f"The image is far too large; the limit is {max_pixels / 1e6:.1f} megapixels.") from None
        raise InvalidInput("That file is not an image this app can read (try PNG, JPEG or WebP).") from None
    except OSError:
        raise InvalidInput("The image file could not be read; it may be damaged or incomplete.") from None
    width, height = image.size
    if width == 0 or height == 0:
        raise InvalidInput("The image is empty (zero pixels wide or high).")
    if width * height > max_pixels or max(width, height) > max_side:
        raise InvalidInput(
            f"The image is {width}x{height} pixels; the limit is {max_pixels / 1e6:.1f} megapixels "
            f"and {max_side} pixels on the longest side. Please crop or shrink it first."
        )
    try:
        if shrink_to is not None and image.format == "JPEG" and max(width, height) > shrink_to:
            side = max(MIN_DRAFT_SIDE, round(shrink_to * min(width, height) / max(width, height)))  # same shape
            image.draft(image.mode, (shrink_to, side) if width >= height else (side, shrink_to))
        image.load()
        upright = ImageOps.exif_transpose(image)
        turned = image.getexif().get(ORIENTATION, 1) in (5, 6, 7, 8)
        upright.info["original_size"] = (height, width) if turned else (width, height)
        return upright
    except (OSError, SyntaxError, ValueError):
        raise InvalidInput("The image file could not be read; it may be damaged or incomplete.") from None
