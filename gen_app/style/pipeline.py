"""Style-transfer pipelines: a photo in, a painted photo out. No Gradio:

from gen_app.style.pipeline import StylePipeline
pipe = StylePipeline.load()
out = pipe.stylize("photo.jpg", "starry_night", strength=0.8)       # one of the shipped paintings, instant
out.image.save("painted.png")
for step in pipe.stylize_any("photo.jpg", "my_painting.jpg"):    # any style image, by optimisation
    preview = step.image                                            # improves every few iterations

`stylize` runs the multi-style network (model.py). Strength blends the style's normalisation parameters
towards style 0, the photo itself, so intermediate strengths are gentler paintings rather than a cross-fade;
a second style is blended the same way. "Keep colours" keeps the photo's chroma (YCbCr Cb and Cr) under the
painting's luminance. Images larger than the chosen output size are shrunk first, with a notice.

`stylize_any` is Gatys et al.'s optimisation: starting from the photo, L-BFGS changes the pixels until their
EfficientNet-Lite0 features have the photo's content and the style image's Gram statistics (the same losses
the network was trained with). No feed-forward network for unseen styles is shipped: a capped optimisation at
a moderate size gives a faithful result in seconds to a minute on a CPU, and yields a preview as it goes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gen_app.device import yield_to_quick_work
from gen_app.images import open_user_image
from gen_app.limits import InvalidInput, check_float, check_int
from gen_app.loading import CHECKPOINTS, load_model
from gen_app.style.features import CONTENT_LAYER, STYLE_LAYERS, FeatureNet, gram, relative_error, total_variation
from gen_app.style.model import MULTIPLE, StyleNet

STYLES_DIR = Path(__file__).resolve().parent / "styles"
# Decoded only to be shrunk to the output size. 25 MP takes any phone's default photo (12-24 MP); a 50 MP input
# cost 370 MB of memory for a few seconds, too much beside the other tabs on a small server.
MAX_INPUT_PIXELS = 25_000_000
MAX_INPUT_SIDE = 12_000
MIN_SIDE = 16
OUTPUT_SIDES = (256, 512, 768, 1024)  # longest side of the result
ANY_STYLE_SIDES = (256, 384, 512)
STRENGTH_RANGE = (0.0, 1.0)  # 0: the photo, 1: the full style
BLEND_RANGE = (0.0, 1.0)  # the second style's share
ANY_STYLE_STEPS_RANGE = (10, 300)  # optimisation iterations (previews come every 10)
ANY_STYLE_MAX_SECONDS = 45.0  # an optimisation stops here, whatever its iterations: others share the CPU
STYLE_IMAGE_SIDE = 384  # paintings are compared at this size, as in training
ANY_STYLE_WEIGHT = 100.0  # style vs content for the optimisation (the notes' value for these normalised losses)
ANY_STYLE_TV_WEIGHT = 1.0


@dataclass(frozen=True)
class Style:
    id: str
    title: str
    painter: str
    year: str | None
    file: Path
    source: str
    licence: str

    @property
    def label(self) -> str:
        return f"{self.title} ({self.painter}, {self.year})" if self.year else f"{self.title} ({self.painter})"


@dataclass
class Stylized:
    image: Image.Image  # RGB, or RGBA when the photo had transparency
    photo: Image.Image  # the photo as it went in (upright, resized, same mode as image)
    notices: list[str] = field(default_factory=list)
    step: int = 0  # stylize_any: iterations done so far
    steps: int = 0
    params: dict = field(default_factory=dict)  # stylize: what a saved result records (the app and the CLI alike)


def load_styles(folder: Path = STYLES_DIR) -> list[Style]:
    """The shipped paintings, in gallery order (styles.json, written by train/style/data.py)."""
    entries = json.loads((folder / "styles.json").read_text(encoding="utf-8"))
    keys = ("title", "painter", "year", "source", "licence")
    return [Style(e["id"], *(e[k] for k in keys[:3]), folder / e["file"], *(e[k] for k in keys[3:])) for e in entries]


def prepare_photo(source, max_side: int) -> tuple[Image.Image, Image.Image | None, list[str]]:
    """(RGB photo shrunk to `max_side`, its alpha channel or None, notices) from any readable image."""
    image = open_user_image(source, MAX_INPUT_PIXELS, MAX_INPUT_SIDE, shrink_to=max_side)
    width, height = image.info.get("original_size", image.size)  # a JPEG may have been decoded smaller
    if min(width, height) < MIN_SIDE:
        raise InvalidInput(f"The image is {width}x{height}; both sides need at least {MIN_SIDE} pixels.")
    notices = []
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if image.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        image = Image.fromarray((np.asarray(image, dtype=np.float32) / 257).clip(0, 255).astype(np.uint8))
    wanted = "RGBA" if has_alpha else "RGB"
    image = image if image.mode == wanted else image.convert(wanted)  # convert copies even to the same mode
    if max(image.size) > max_side:
        scale = max_side / max(image.size)
        size = (max(MIN_SIDE, round(image.width * scale)), max(MIN_SIDE, round(image.height * scale)))
        notices.append(f"The photo ({width}x{height}) was resized to {size[0]}x{size[1]} (output size).")
        image = image.resize(size, Image.LANCZOS)
    alpha = image.getchannel("A") if has_alpha else None
    return image.convert("RGB"), alpha, notices


def to_tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)[None].contiguous()


def to_image(x: torch.Tensor) -> Image.Image:
    return Image.fromarray((x[0].detach().float().cpu().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy())


def keep_colours(painted: Image.Image, photo: Image.Image) -> Image.Image:
    """The painting's luminance with the photo's chroma (Cb, Cr)."""
    y = painted.convert("YCbCr").getchannel("Y")
    _, cb, cr = photo.resize(painted.size, Image.LANCZOS).convert("YCbCr").split()
    return Image.merge("YCbCr", (y, cb, cr)).convert("RGB")


def finish(painted: Image.Image, photo: Image.Image, alpha: Image.Image | None, colours: bool) -> Image.Image:
    if colours:
        painted = keep_colours(painted, photo)
    if alpha is not None:
        painted.putalpha(alpha)
    return painted


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad H and W up to a multiple (reflection needs the pad smaller than the side: tiny images repeat)."""
    height, width = x.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    while pad_h or pad_w:
        step_h, step_w = min(pad_h, x.shape[-2] - 1), min(pad_w, x.shape[-1] - 1)
        x = F.pad(x, (0, step_w, 0, step_h), mode="reflect")
        pad_h, pad_w = pad_h - step_h, pad_w - step_w
    return x, (height, width)


def pick_precision(model: StyleNet, device: torch.device) -> torch.dtype:
    """bfloat16 where it is faster (CUDA; CPUs with native bf16 such as AVX512-BF16 or AMX), else float32.

    Timed once at load on a small image, because CPUs without native bf16 emulate it more slowly than float32.
    The two agree to about 50 dB PSNR on the output (model card).
    """
    if device.type == "cuda":
        return torch.bfloat16
    if device.type != "cpu":
        return torch.float32
    x = torch.rand(1, 3, 256, 256).contiguous(memory_format=torch.channels_last)
    weights = torch.eye(model.num_styles)[1:2]
    fastest = {}
    for dtype in (torch.float32, torch.bfloat16):
        with torch.inference_mode(), torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
            model(x, weights)  # warm-up
            times = []
            for _ in range(5):
                started = time.perf_counter()
                model(x, weights)
                times.append(time.perf_counter() - started)
        fastest[dtype] = min(times)  # the minimum is robust to other work on the machine
    return torch.bfloat16 if fastest[torch.bfloat16] < 0.85 * fastest[torch.float32] else torch.float32


class StylePipeline:
    def __init__(
        self,
        model: StyleNet,
        styles: list[Style],
        origin: str = "",
        device: torch.device | None = None,
        precision: torch.dtype | None = None,
        folder: Path = CHECKPOINTS / "style",
    ):
        known = set(model.style_ids[1:])
        missing = [s.id for s in styles if s.id not in known]
        if missing:
            raise ValueError(f"styles without trained parameters: {missing}")
        self.device = device or next(model.parameters()).device
        # Channels-last suits oneDNN's convolutions on the CPU (about 10% faster here) and tensor cores on a GPU.
        self.model = model.to(memory_format=torch.channels_last)
        self.styles, self.origin = styles, origin
        self.folder = Path(folder)  # where the weights were read from, with their model card (README.md)
        self.precision = precision or pick_precision(self.model, self.device)
        self._features: FeatureNet | None = None

    @classmethod
    def load(cls, device: torch.device | None = None) -> StylePipeline:
        model, origin, folder = load_model(StyleNet, "style", device)
        return cls(model, load_styles(), origin, folder=folder)

    @property
    def features(self) -> FeatureNet:
        """The loss network for stylize_any, loaded on first use (the instant styles do not need it)."""
        if self._features is None:
            self._features = FeatureNet().to(self.device)
        return self._features

    def style(self, style_id: str) -> Style:
        for style in self.styles:
            if style.id == style_id:
                return style
        names = ", ".join(s.id for s in self.styles)
        raise InvalidInput(f"Unknown style {style_id!r}; choose one of: {names}.")

    def style_weights(self, style_id: str, strength: float, blend_id: str | None, blend: float) -> torch.Tensor:
        """(1, num_styles): strength towards the chosen style (mixed with `blend` of a second), the rest photo."""
        ids = self.model.style_ids
        weights = torch.zeros(1, len(ids))
        weights[0, ids.index(self.style(style_id).id)] += strength * (1 - blend if blend_id else 1)
        if blend_id:
            weights[0, ids.index(self.style(blend_id).id)] += strength * blend
        weights[0, 0] += 1 - strength
        return weights

    @torch.inference_mode()
    def stylize(
        self,
        source,
        style: str,
        strength: float = 1.0,
        blend_with: str | None = None,
        blend: float = 0.0,
        keep_photo_colours: bool = False,
        max_side: int = 768,
    ) -> Stylized:
        strength = check_float("Strength", strength, *STRENGTH_RANGE)
        blend = check_float("Blend", blend, *BLEND_RANGE)
        max_side = check_int("Output size", max_side, OUTPUT_SIDES[0], OUTPUT_SIDES[-1])
        blend_with = blend_with or None
        weights = self.style_weights(style, strength, blend_with, blend)
        photo, alpha, notices = prepare_photo(source, max_side)
        x, (height, width) = pad_to_multiple(to_tensor(photo), MULTIPLE)
        x = x.to(self.device).contiguous(memory_format=torch.channels_last)
        low_precision = self.precision != torch.float32
        with torch.autocast(self.device.type, dtype=self.precision, enabled=low_precision):
            out = self.model(x, weights.to(self.device))[..., :height, :width]
        image = finish(to_image(out), photo, alpha, keep_photo_colours)
        if alpha is not None:
            photo = photo.copy()
            photo.putalpha(alpha)
        params = {
            "model": "gen_app style",
            "style": style,
            "strength": strength,
            "blend_with": blend_with,
            "blend": blend if blend_with else 0.0,
            "keep_colours": bool(keep_photo_colours),
            "size": list(image.size),
        }
        return Stylized(image, photo, notices, params=params)

    def stylize_any(
        self,
        source,
        style_image,
        steps: int = 80,
        max_side: int = 384,
        keep_photo_colours: bool = False,
        preview_every: int = 10,
        should_stop: Callable[[], bool] | None = None,
        max_seconds: float = ANY_STYLE_MAX_SECONDS,
    ) -> Iterator[Stylized]:
        """Yields the picture as it improves (every `preview_every` iterations) and finally the result. Past
        `max_seconds` it stops at the next preview, with a notice: the last picture is the result."""
        steps = check_int("Iterations", steps, *ANY_STYLE_STEPS_RANGE)
        max_side = check_int("Output size", max_side, ANY_STYLE_SIDES[0], ANY_STYLE_SIDES[-1])
        photo, alpha, notices = prepare_photo(source, max_side)
        painting = open_user_image(style_image, MAX_INPUT_PIXELS, MAX_INPUT_SIDE, shrink_to=STYLE_IMAGE_SIDE)
        painting = painting if painting.mode == "RGB" else painting.convert("RGB")
        if min(painting.size) < MIN_SIDE:
            raise InvalidInput(f"The style image needs at least {MIN_SIDE} pixels a side.")
        painting.thumbnail((STYLE_IMAGE_SIDE, STYLE_IMAGE_SIDE), Image.LANCZOS)
        features = self.features
        content, (height, width) = pad_to_multiple(to_tensor(photo).to(self.device), 2)  # Lite0 wants even sides
        style_target, _ = pad_to_multiple(to_tensor(painting).to(self.device), 2)
        with torch.no_grad():
            content_target = features(content)[CONTENT_LAYER]
            grams = {name: gram(f) for name, f in features(style_target).items() if name in STYLE_LAYERS}

        # Optimise logits, so pixels stay in (0, 1) without clamping, starting from the photo.
        logits = torch.logit(content.clone(), eps=1e-3).requires_grad_(True)
        optimizer = torch.optim.LBFGS([logits], lr=1.0, max_iter=preview_every, history_size=20)

        waited = [0.0]  # seconds spent waiting for quick requests (gen_app.device): not counted in the time cap

        def closure() -> torch.Tensor:
            waited[0] += yield_to_quick_work()
            optimizer.zero_grad()
            image = torch.sigmoid(logits)
            found = features(image)
            style = sum(relative_error(gram(found[name]), grams[name]) for name in STYLE_LAYERS)
            loss = relative_error(found[CONTENT_LAYER], content_target) + ANY_STYLE_WEIGHT * style
            loss = (loss + ANY_STYLE_TV_WEIGHT * total_variation(image)).sum()
            loss.backward()
            return loss

        done, started = 0, time.perf_counter()
        while done < steps:
            optimizer.param_groups[0]["max_iter"] = min(preview_every, steps - done)
            optimizer.step(closure)
            done += optimizer.param_groups[0]["max_iter"]
            if done < steps and time.perf_counter() - started - waited[0] > max_seconds:
                notices.append(
                    f"Stopped at iteration {done} of {steps}: an optimisation may take at most {max_seconds:.0f} s "
                    "here. A smaller output size gets further in the same time."
                )
                steps = done  # this picture is the result
            result = torch.sigmoid(logits.detach())[..., :height, :width]
            yield Stylized(finish(to_image(result), photo, alpha, keep_photo_colours), photo, notices, done, steps)
            if should_stop is not None and should_stop():
                return
