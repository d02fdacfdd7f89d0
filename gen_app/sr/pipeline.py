"""Super-resolution pipeline: any reasonable image in, the same kind of image out at 2x or 4x. No Gradio:

from gen_app.sr.pipeline import SRPipeline
pipe = SRPipeline.load()
big = pipe.upscale("photo.jpg", scale=4)       # a PIL image, same mode as the input
big.image.save("photo_x4.png")
pipe.upscale("photo.jpg", scale=4, photo_type="clean")   # force the faithful model on a JPEG

Two kinds of model ("photo types"): "clean" (sr-x2, sr-x4: trained on bicubic-shrunk, losslessly saved photos, so
faithful to what the input shows) and "real" (sr-x4-real: trained on Real-ESRGAN-style degradations: blur, noise,
JPEG, twice; it removes JPEG blocks and noise instead of enlarging them). With no photo type given, a JPEG gets the
real-photo model and anything else the clean one: a JPEG has been through lossy compression (and usually a phone's
or camera's processing), while a PNG or WebP is more often a screenshot, a graphic or an already-clean image. There
is no separate x2 real-photo network: at x2 the x4 real-photo network runs and each 2x2 block of its output is
averaged (the same cost per input pixel; tile joins stay exact, since tiles start at even output pixels).

Modes are kept: RGB, RGBA (the alpha channel is upscaled by the same network), grayscale (L, LA) and 16-bit
grayscale (I;16). Palette, CMYK and other modes come back as RGB(A). EXIF orientation is applied first.
Large images are processed in tiles that overlap by more than the network's receptive field, so tiling
changes nothing (no seams) and memory stays bounded.
"""

from __future__ import annotations

import functools
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gen_app.device import yield_to_quick_work
from gen_app.images import open_user_image
from gen_app.limits import InvalidInput
from gen_app.loading import CHECKPOINTS, ModelLoadError, load_model
from gen_app.sr.model import SRNet

log = logging.getLogger(__name__)

SCALES = (2, 4)
CLEAN, REAL = "clean", "real"
# The photo types, as the tab, the API and the CLI name them (value: label). Defined here once.
PHOTO_TYPES = {CLEAN: "Clean (faithful)", REAL: "Real photo (JPEG, noise)"}
REAL_TASK = "sr-x4-real"  # the real-photo network (x4; x2 is derived from it, see the module's doc)
JPEG_FORMATS = ("JPEG", "MPO")  # MPO: phones' multi-picture JPEGs
# A result may have up to 16.8 megapixels (4096x4096): at x2 a 2048x2048 photo, at x4 a 1024x1024 one. Larger ones
# (a 67-megapixel x4 result took 3.5 minutes and 0.7 GB here, and makes a 120 MB PNG) are beyond a demo's use.
MAX_OUTPUT_PIXELS = 4096 * 4096
MAX_INPUT_SIDE = 4096


def max_input_pixels(scale: int) -> int:
    """The most pixels an input may have at `scale`."""
    return MAX_OUTPUT_PIXELS // scale**2


TILE = 256  # input pixels per tile side; each tile also sees TILE_OVERLAP pixels of its neighbours
TILE_OVERLAP = 24  # > the network's receptive radius (checked at load), so tiles join exactly
SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


@dataclass
class Upscaled:
    image: Image.Image  # the result, in the input's mode
    scale: int
    original: Image.Image  # the input as read (upright)
    notices: list[str] = field(default_factory=list)
    photo_type: str = CLEAN

    @property
    def model_name(self) -> str:
        if self.photo_type == REAL:
            return f"{REAL_TASK}" if self.scale == 4 else f"{REAL_TASK} (2x2 mean, x{self.scale})"
        return f"sr-x{self.scale}"

    @property
    def params(self) -> dict:
        """What a saved result records (the app's download and the CLI alike): the model, scale and input size
        (and the photo type when it is not the clean default, so older records read the same)."""
        params = {"model": f"gen_app {self.model_name}", "scale": self.scale, "input_size": list(self.original.size)}
        return params | ({"photo_type": self.photo_type} if self.photo_type != CLEAN else {})


def is_jpeg(source: str | Path | Image.Image) -> bool:
    """Whether `source` is a JPEG file (or an image read from one). Only the header is read."""
    if isinstance(source, Image.Image):
        return source.format in JPEG_FORMATS
    try:
        with Image.open(source) as image:
            return image.format in JPEG_FORMATS
    except (OSError, ValueError):
        return False


@functools.cache
def _libjpeg_luma_tables() -> np.ndarray:
    """(100, 64): the luminance quantisation table PIL's libjpeg writes at each quality 1-100, read back by PIL (so
    in the order and scaling `Image.quantization` gives)."""
    tables = []
    for quality in range(1, 101):
        buffer = io.BytesIO()
        Image.new("L", (8, 8)).save(buffer, format="JPEG", quality=quality)
        tables.append(Image.open(buffer).quantization[0])
    return np.array(tables, dtype=np.int64)


def jpeg_quality(source: str | Path | Image.Image | None) -> int | None:
    """The quality (1-100) a JPEG was saved at, read from its luminance quantisation table: exact for libjpeg's
    tables (most software), the nearest libjpeg quality for a camera's own. None for anything not a JPEG. Only the
    header is read, once."""
    if source is None:
        return None
    try:
        if isinstance(source, Image.Image):
            return _quality_of(source)
        with Image.open(source) as image:
            return _quality_of(image)
    except (OSError, ValueError):
        return None


def _quality_of(image: Image.Image) -> int | None:
    if not is_jpeg(image):
        return None
    try:
        tables = image.quantization
        luma = np.array(tables[min(tables)], dtype=np.int64)
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    if luma.shape != (64,):
        return None
    return int(np.abs(_libjpeg_luma_tables() - luma).sum(axis=1).argmin()) + 1


def default_photo_type(source: str | Path | Image.Image | None) -> str:
    """The photo type used when none is chosen: REAL for a JPEG, CLEAN for anything else (see the module's doc)."""
    return REAL if source is not None and is_jpeg(source) else CLEAN


class HalvedX4(torch.nn.Module):
    """A x4 network as a x2 one: its output averaged over 2x2 blocks. Used for the x2 real-photo model: the x4
    real-photo network's denoising and deblocking at x2, with no second network to train or load."""

    def __init__(self, model: SRNet):
        super().__init__()
        if model.scale != 4:
            raise ValueError(f"HalvedX4 takes a x4 network, got x{model.scale}")
        self.model, self.scale, self.receptive_radius = model, 2, model.receptive_radius

    def forward(self, x: torch.Tensor, jpeg_quality: int | None = None) -> torch.Tensor:
        return torch.nn.functional.avg_pool2d(self.model(x, jpeg_quality), 2)


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


# Per output mode: the channels of the array the tiles are written into, and the raw mode in which PIL can use that
# array in place (RGBA and L: no copy; at 8192x8192 an RGBA copy would be 270 MB). PIL keeps RGB with a padding
# byte per pixel, so RGB (like the rare LA and 16-bit results) is copied once.
CANVAS = {"RGB": (3, None), "RGBA": (4, "RGBA"), "L": (1, "L"), "LA": (2, None), "I;16": (1, None)}


def canvas_to_image(canvas: torch.Tensor, mode: str) -> Image.Image:
    """The result image for upscale's canvas (H, W, channels of CANVAS[mode]), sharing its memory where PIL can."""
    height, width, _ = canvas.shape
    array = canvas.numpy()
    raw = CANVAS[mode][1]
    if raw is not None:
        return Image.frombuffer(mode, (width, height), array, "raw", raw, 0, 1)
    if mode == "I;16":
        return Image.fromarray(array[..., 0].astype(np.uint16))  # mode I;16
    return Image.fromarray(array)  # RGB or LA, by shape


@torch.inference_mode()
def upscale_tiled(
    model: SRNet | torch.nn.Module,
    x: torch.Tensor,
    tile: int = TILE,
    progress: Callable[[float], None] | None = None,
    gray: bool = False,
    levels: int = 255,
    out: torch.Tensor | None = None,
    jpeg_quality: int | None = None,
) -> torch.Tensor:
    """(1, 3, H, W) in [0, 1] on the CPU -> (H*s, W*s, 3) on the CPU, one overlapping tile at a time on the model's
    device, each tile rounded to `levels` steps as it is written (uint8 for 255, int32 for more). `gray`: the
    channels' mean, (H*s, W*s, 1). `out`: write into this (a view of a larger array works) instead of a new array.
    `jpeg_quality`: the input file's (`jpeg_quality`), for networks told it (SRNet's jpeg_input).
    The output is never held in float: at 8192x8192 that would be 805 MB."""
    device = next(model.parameters()).device
    s, (height, width) = model.scale, x.shape[-2:]
    if out is None:
        dtype = torch.uint8 if levels <= 255 else torch.int32
        out = torch.empty(height * s, width * s, 1 if gray else 3, dtype=dtype)
    corners = [(y, x0) for y in range(0, height, tile) for x0 in range(0, width, tile)]
    for done, (y0, x0) in enumerate(corners, 1):
        yield_to_quick_work()  # a large upscale is long work: quick requests go first (gen_app.device)
        y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
        top, left = max(y0 - TILE_OVERLAP, 0), max(x0 - TILE_OVERLAP, 0)
        bottom, right = min(y1 + TILE_OVERLAP, height), min(x1 + TILE_OVERLAP, width)
        up = model(x[..., top:bottom, left:right].to(device), jpeg_quality).float().cpu()[0]
        oy, ox = (y0 - top) * s, (x0 - left) * s
        up = up[:, oy : oy + (y1 - y0) * s, ox : ox + (x1 - x0) * s]
        up = up.mean(0, keepdim=True) if gray else up
        out[y0 * s : y1 * s, x0 * s : x1 * s] = up.clamp_(0, 1).mul_(levels).round_().permute(1, 2, 0).to(out.dtype)
        if progress is not None:
            progress(done / len(corners))
    return out


class SRPipeline:
    def __init__(
        self,
        models: dict[int, SRNet],
        origins: dict[int, str] | None = None,
        folders: dict[int, Path] | None = None,
        real: SRNet | None = None,
        real_origin: str = "",
        real_folder: Path | None = None,
    ):
        for model in [*models.values(), *([real] if real is not None else [])]:
            if model.receptive_radius > TILE_OVERLAP:
                raise ValueError(f"tile overlap {TILE_OVERLAP} < receptive radius {model.receptive_radius}")
        self.models = models
        self.origins = origins or {}
        # Per scale, where the weights were read from, with their model card (README.md).
        self.folders = {scale: CHECKPOINTS / f"sr-x{scale}" for scale in models} | (folders or {})
        # The real-photo network (x4), and per scale the network that serves the real-photo type.
        self.real, self.real_origin = real, real_origin
        self.real_folder = real_folder or CHECKPOINTS / REAL_TASK
        self.real_models: dict[int, torch.nn.Module] = {} if real is None else {4: real, 2: HalvedX4(real)}
        self.real_error: str | None = None  # why the real-photo model did not load (load() sets it)

    @classmethod
    def load(cls, device: torch.device | None = None) -> SRPipeline:
        models, origins, folders = {}, {}, {}
        for scale in SCALES:
            models[scale], origins[scale], folders[scale] = load_model(SRNet, f"sr-x{scale}", device)
        try:
            real, real_origin, real_folder = load_model(SRNet, REAL_TASK, device)
        except ModelLoadError as error:
            # The clean models still serve (the tab offers only "clean"); the error is logged and recorded
            # (gen_app.loading.LOAD_STATES, so /metrics shows the model as not loaded) and shown by the tab.
            log.warning("the real-photo SR model is not available: %s", error)
            pipe = cls(models, origins, folders)
            pipe.real_error = str(error)
            return pipe
        return cls(models, origins, folders, real, real_origin, real_folder)

    @property
    def photo_types(self) -> list[str]:
        """The photo types this pipeline can serve (REAL only with a real-photo network)."""
        return [CLEAN, *([REAL] if self.real is not None else [])]

    def upscale(
        self,
        source: str | Path | Image.Image,
        scale: int,
        tile: int = TILE,
        progress: Callable[[float], None] | None = None,
        photo_type: str | None = None,
    ) -> Upscaled:
        """`photo_type`: CLEAN or REAL (PHOTO_TYPES' keys or labels); None: REAL for a JPEG, else CLEAN."""
        if scale not in self.models:
            raise InvalidInput(f"Scale must be one of {', '.join(f'x{s}' for s in self.models)}, got {scale!r}.")
        labels = {label: key for key, label in PHOTO_TYPES.items()}
        photo_type = labels.get(photo_type, photo_type) if isinstance(photo_type, str) else photo_type
        if photo_type is not None and photo_type not in self.photo_types:
            named = " or ".join(f'"{key}" ({PHOTO_TYPES[key]})' for key in self.photo_types)
            raise InvalidInput(f"Photo type must be {named}, got {photo_type!r}.")
        image = open_user_image(source, max_input_pixels(min(SCALES)), MAX_INPUT_SIDE)
        if photo_type is None:
            photo_type = default_photo_type(source)
            if photo_type not in self.photo_types:
                photo_type = CLEAN
        if image.width * image.height > max_input_pixels(scale):
            raise InvalidInput(
                f"At ×{scale} the photo may have at most {max_input_pixels(scale) / 1e6:.1f} megapixels (so the result "
                f"has at most {MAX_OUTPUT_PIXELS / 1e6:.1f}); this one is {image.width}x{image.height}. Choose a "
                "smaller factor or shrink it first."
            )
        quality = jpeg_quality(source)
        color, alpha, mode = image_to_planes(image)
        notices = []
        if mode != image.mode and image.mode not in SIXTEEN_BIT:
            notices.append(f"The image's {image.mode} mode was converted for upscaling; the result is {mode}.")
        model = self.real_models[scale] if photo_type == REAL else self.models[scale]
        height, width = color.shape[-2:]
        depth = torch.int32 if mode == "I;16" else torch.uint8
        canvas = torch.empty(height * scale, width * scale, CANVAS[mode][0], dtype=depth)
        gray = mode in ("L", "LA", "I;16")
        # The alpha channel goes through the same network (as gray), so edges stay as sharp as the colours.
        passes = [(color, canvas[..., : 1 if gray else 3], gray)]
        if alpha is not None:
            passes.append((alpha.expand(1, 3, -1, -1), canvas[..., -1:], True))
        count = len(passes)
        for i, (planes, out, gray) in enumerate(passes):
            step = (lambda f, i=i: progress((i + f) / count)) if progress else None
            levels = 65535 if mode == "I;16" else 255
            upscale_tiled(model, planes, tile, step, gray=gray, levels=levels, out=out, jpeg_quality=quality)
        del color, alpha, passes, planes  # the float input (67 MB at the largest) is not needed any more
        return Upscaled(canvas_to_image(canvas, mode), scale, image, notices, photo_type)
