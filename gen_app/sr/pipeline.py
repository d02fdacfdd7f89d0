"""Super-resolution pipeline: any reasonable image in, the same kind of image out at 2x or 4x. No Gradio:

from gen_app.sr.pipeline import SRPipeline
pipe = SRPipeline.load()
big = pipe.upscale("photo.jpg", scale=4)       # a PIL image, same mode as the input
big.image.save("photo_x4.png")

Modes are kept: RGB, RGBA (the alpha channel is upscaled by the same network), grayscale (L, LA) and 16-bit
grayscale (I;16). Palette, CMYK and other modes come back as RGB(A). EXIF orientation is applied first.
Large images are processed in tiles that overlap by more than the network's receptive field, so tiling
changes nothing (no seams) and memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gen_app.images import open_user_image
from gen_app.limits import InvalidInput
from gen_app.loading import CHECKPOINTS, load_model
from gen_app.sr.model import SRNet

SCALES = (2, 4)
MAX_INPUT_PIXELS = 4_200_000  # e.g. 2048x2048; at x4 that is a 67-megapixel output
MAX_INPUT_SIDE = 4096
TILE = 256  # input pixels per tile side; each tile also sees TILE_OVERLAP pixels of its neighbours
TILE_OVERLAP = 24  # > the network's receptive radius (checked at load), so tiles join exactly
SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


@dataclass
class Upscaled:
    image: Image.Image  # the result, in the input's mode
    scale: int
    original: Image.Image  # the input as read (upright)
    notices: list[str] = field(default_factory=list)

    @property
    def params(self) -> dict:
        """What a saved result records (the app's download and the CLI alike): the model, scale and input size."""
        return {"model": f"gen_app sr-x{self.scale}", "scale": self.scale, "input_size": list(self.original.size)}


def image_to_planes(image: Image.Image) -> tuple[torch.Tensor, torch.Tensor | None, str]:
    """(color (1, 3, H, W) in [0, 1], alpha (1, 1, H, W) or None, output mode) for any PIL mode."""
    mode = image.mode
    if mode in SIXTEEN_BIT:
        gray = np.asarray(image, dtype=np.float32).clip(0, 65535) / 65535
        return torch.from_numpy(gray)[None, None].expand(1, 3, -1, -1), None, "I;16"
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("1", "F"):
        image = image.convert("L")
    elif mode == "PA":
        image = image.convert("RGBA")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGB")  # CMYK, YCbCr, LAB, HSV
    array = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255)
    if array.ndim == 2:
        array = array[..., None]
    has_alpha = image.mode in ("LA", "RGBA")
    color = array[..., :-1] if has_alpha else array
    color = color.permute(2, 0, 1)[None].expand(1, 3, -1, -1) if color.shape[-1] == 1 else color.permute(2, 0, 1)[None]
    alpha = array[..., -1:].permute(2, 0, 1)[None] if has_alpha else None
    return color.contiguous(), alpha, image.mode


@torch.inference_mode()  # the planes come from inference; in-place updates need the same mode
def planes_to_image(color: torch.Tensor, alpha: torch.Tensor | None, mode: str) -> Image.Image:
    """The inverse of image_to_planes, rounding to the mode's bit depth (in place: outputs can be huge)."""
    color = color[0].clamp_(0, 1)
    if mode in ("L", "LA", "I;16"):
        color = color.mean(0, keepdim=True)
    if mode == "I;16":
        return Image.fromarray(color[0].mul_(65535).round_().numpy().astype(np.uint16))  # mode I;16
    planes = torch.cat([color, alpha[0].clamp(0, 1)]) if alpha is not None else color
    array = planes.mul_(255).round_().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)  # L, LA, RGB or RGBA by shape


@torch.inference_mode()
def upscale_tiled(
    model: SRNet, x: torch.Tensor, tile: int = TILE, progress: Callable[[float], None] | None = None
) -> torch.Tensor:
    """(1, 3, H, W) on the CPU -> (1, 3, H*s, W*s) on the CPU, one overlapping tile at a time on the model's device."""
    device = next(model.parameters()).device
    s, (height, width) = model.scale, x.shape[-2:]
    out = torch.empty(1, 3, height * s, width * s)
    corners = [(y, x0) for y in range(0, height, tile) for x0 in range(0, width, tile)]
    for done, (y0, x0) in enumerate(corners, 1):
        y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
        top, left = max(y0 - TILE_OVERLAP, 0), max(x0 - TILE_OVERLAP, 0)
        bottom, right = min(y1 + TILE_OVERLAP, height), min(x1 + TILE_OVERLAP, width)
        up = model(x[..., top:bottom, left:right].to(device)).float().cpu()
        oy, ox = (y0 - top) * s, (x0 - left) * s
        out[..., y0 * s : y1 * s, x0 * s : x1 * s] = up[..., oy : oy + (y1 - y0) * s, ox : ox + (x1 - x0) * s]
        if progress is not None:
            progress(done / len(corners))
    return out


class SRPipeline:
    def __init__(
        self, models: dict[int, SRNet], origins: dict[int, str] | None = None, folders: dict[int, Path] | None = None
    ):
        for model in models.values():
            if model.receptive_radius > TILE_OVERLAP:
                raise ValueError(f"tile overlap {TILE_OVERLAP} < receptive radius {model.receptive_radius}")
        self.models = models
        self.origins = origins or {}
        # Per scale, where the weights were read from, with their model card (README.md).
        self.folders = {scale: CHECKPOINTS / f"sr-x{scale}" for scale in models} | (folders or {})

    @classmethod
    def load(cls, device: torch.device | None = None) -> SRPipeline:
        models, origins, folders = {}, {}, {}
        for scale in SCALES:
            models[scale], origins[scale], folders[scale] = load_model(SRNet, f"sr-x{scale}", device)
        return cls(models, origins, folders)

    def upscale(
        self,
        source: str | Path | Image.Image,
        scale: int,
        tile: int = TILE,
        progress: Callable[[float], None] | None = None,
    ) -> Upscaled:
        if scale not in self.models:
            raise InvalidInput(f"Scale must be one of {', '.join(f'x{s}' for s in self.models)}, got {scale!r}.")
        image = open_user_image(source, MAX_INPUT_PIXELS, MAX_INPUT_SIDE)
        color, alpha, mode = image_to_planes(image)
        notices = []
        if mode != image.mode and image.mode not in SIXTEEN_BIT:
            notices.append(f"The image's {image.mode} mode was converted for upscaling; the result is {mode}.")
        model = self.models[scale]
        # The alpha channel goes through the same network (as gray), so edges stay as sharp as the colours.
        passes = [color] + ([alpha.expand(1, 3, -1, -1)] if alpha is not None else [])
        results = []
        for i, planes in enumerate(passes):
            step = (lambda f, i=i: progress((i + f) / len(passes))) if progress else None
            results.append(upscale_tiled(model, planes, tile, step))
        up_alpha = results[1].mean(1, keepdim=True) if alpha is not None else None
        return Upscaled(planes_to_image(results[0], up_alpha, mode), scale, image, notices)
