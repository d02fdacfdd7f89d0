"""The super-resolution tab: wires Gradio components to SRPipeline."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import gradio as gr
from PIL import Image

from gen_app.device import large_memory_work, low_priority
from gen_app.gpu import on_gpu
from gen_app.images import header_pixels, save_png
from gen_app.outputs import new_output_path, save_for_display
from gen_app.sr.pipeline import (
    CLEAN,
    MAX_INPUT_SIDE,
    MAX_OUTPUT_PIXELS,
    PHOTO_TYPES,
    REAL,
    SCALES,
    SRPipeline,
    default_photo_type,
    max_input_pixels,
)
from gen_app.ui import NumberRadio, Tab, about_panel, described, model_event, page_only, user_errors
from gen_app.uploads import ImageUpload

EXAMPLES = Path(__file__).resolve().parent / "examples"
PREVIEW_SIDE = 1024  # larger results are compared on their central 1024x1024 crop; the download is whole

INTRO = f"""Upload a photo and get it back 2x or 4x larger, with the detail a compact network trained here
(on photos from Debian packages) predicts instead of bicubic blur. Drag the slider to compare with bicubic
upscaling. Colour, grayscale, transparent (RGBA) and 16-bit images keep their kind; phone photos are turned
upright. Photos up to {max_input_pixels(2) / 1e6:.1f} megapixels at ×2 and {max_input_pixels(4) / 1e6:.1f} at ×4
(results up to {MAX_OUTPUT_PIXELS / 1e6:.1f}), {MAX_INPUT_SIDE} px a side at most; big images go in tiles."""

# Why two models, and why the default follows the file type (the pipeline's doc has the measured reasons).
PHOTO_TYPE_INFO = (
    f"**{PHOTO_TYPES[CLEAN]}** keeps every detail the photo has: best for PNGs, screenshots and photos that were "
    f"never JPEG-compressed. **{PHOTO_TYPES[REAL]}** was trained on blurred, noisy, JPEG-compressed photos: it "
    "removes JPEG blocks and noise instead of enlarging them, so its result is smoother. It is picked for you when "
    "you upload a JPEG (the clean model for anything else); change it if the result looks wrong."
)


def displayable(image: Image.Image) -> Image.Image:
    """8-bit RGB or RGBA, for the browser."""
    if image.mode == "I;16":
        image = image.point(lambda v: v / 257).convert("L")
    return image.convert("RGBA" if "A" in image.mode or "transparency" in image.info else "RGB")


def comparison(original: Image.Image, result: Image.Image) -> tuple[tuple[Image.Image, Image.Image], str]:
    """(bicubic, ours) at the result's size for the slider, cropped to the centre when large, and a note."""
    left, top = max(0, (result.width - PREVIEW_SIDE) // 2), max(0, (result.height - PREVIEW_SIDE) // 2)
    box = (left, top, left + min(PREVIEW_SIDE, result.width), top + min(PREVIEW_SIDE, result.height))
    # Only the shown part is made: a whole bicubic copy of a 16.8-megapixel result would take 67 MB more memory.
    sx, sy = original.width / result.width, original.height / result.height
    source_box = (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)
    bicubic = displayable(original).resize((box[2] - box[0], box[3] - box[1]), Image.BICUBIC, box=source_box)
    ours = displayable(result.crop(box) if box != (0, 0, *result.size) else result)
    note = " The slider shows the centre; the download is the whole image." if max(result.size) > PREVIEW_SIDE else ""
    return (bicubic, ours), note


# Results larger than this take their turn with the other large-memory work (gen_app.device.large_memory_work).
LARGE_OUTPUT_PIXELS = 4_000_000


def build() -> None:
    pipe = SRPipeline.load()

    @described(
        megapixels=f"{max_input_pixels(2) / 1e6:.1f} at scale 2 and {max_input_pixels(4) / 1e6:.1f} at scale 4",
        side=MAX_INPUT_SIDE,
        scales=" or ".join(str(s) for s in SCALES),
        photo_types=", ".join(f'"{key}" ({label})' for key, label in PHOTO_TYPES.items()),
    )
    @on_gpu
    @low_priority
    @user_errors
    def upscale(
        path: str | None,
        scale: int,
        photo_type: str | None = None,
        progress=gr.Progress(),  # noqa: B008 (Gradio's pattern)
    ):
        """Enlarge an image with a super-resolution network (sharper than bicubic), keeping its kind: colour,
        grayscale, transparent (RGBA) or 16-bit.

        Args:
            path: the image (PNG, JPEG, WebP...), up to {megapixels} megapixels and {side} pixels a side, {file}.
            scale: {scales}.
            photo_type: {photo_types}; empty (the default): "real" for a JPEG, "clean" for anything else.

        Returns:
            bicubic and ours, for comparison (the centre of a large result).
            the result: a PNG file (URL), full size, with its settings in its text chunks.
            a one-line summary (sizes and time).
        """
        large = header_pixels(path) * (scale if isinstance(scale, int) else 1) ** 2 > LARGE_OUTPUT_PIXELS
        with large_memory_work(large):
            started = time.perf_counter()
            shown = functools.partial(progress, desc="Upscaling")
            result = pipe.upscale(path, scale, progress=shown, photo_type=photo_type)
            seconds = time.perf_counter() - started
            download = save_png(result.image, new_output_path(f"upscaled-x{scale}", ".png"), result.params)
        for notice in result.notices:
            gr.Warning(notice)
        (w, h), (width, height) = result.original.size, result.image.size
        (bicubic, ours), note = comparison(result.original, result.image)
        pair = (save_for_display(bicubic, "bicubic"), save_for_display(ours, f"upscaled-x{scale}-shown"))
        kind = PHOTO_TYPES[result.photo_type].split(" (")[0].lower()
        summary = (
            f"{w}×{h} → **{width}×{height}** (×{scale}, {result.image.mode}, {kind} model) in {seconds:.1f} s.{note}"
        )
        return pair, str(download), summary

    gr.Markdown(INTRO)
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=280):
            image = ImageUpload(label="Photo", type="filepath", image_mode=None, sources=["upload", "clipboard"])
            scale = NumberRadio([(f"×{s}", s) for s in SCALES], value=4, label="Upscale factor")
            # No value until a photo arrives: then the file type picks it (photo_type_of), and the user may change it.
            photo_type = gr.Radio(
                [(PHOTO_TYPES[key], key) for key in pipe.photo_types],
                value=None,
                label="Photo type",
                info=f"Picked when you upload: {PHOTO_TYPES[REAL]} for a JPEG, {PHOTO_TYPES[CLEAN]} for anything else.",
            )
            missing = f"\n\n*The real-photo model is not available: {pipe.real_error}*" if pipe.real_error else ""
            gr.Markdown(PHOTO_TYPE_INFO + missing, elem_classes="photo-type-info")
            run = gr.Button("Upscale", variant="primary")
            gr.Examples(
                [[str(p), 4] for p in [*sorted(EXAMPLES.glob("*.png")), *sorted(EXAMPLES.glob("*.jpg"))]],
                inputs=[image, scale],
                label="Examples (small photos: try ×4; the JPEG is a noisy phone-style photo)",
            )
        with gr.Column(scale=2, min_width=300):
            slider = gr.ImageSlider(label="Bicubic ↔ ours", type="filepath", max_height=700)
            summary = gr.Markdown()
            download = gr.File(label="Download (PNG, full size, same kind as the input)")
    # The x4 cards (x2 starts from the clean x4 weights; the real-photo x2 is the x4 network, 2x2-averaged).
    cards = [pipe.folders[4], *([pipe.real_folder] if pipe.real is not None else [])]
    origins = [", ".join(pipe.origins.values()), *([pipe.real_origin] if pipe.real is not None else [])]
    about_panel(cards, origins)

    @page_only
    def photo_type_of(path: str | None) -> str | None:
        """The photo type a new upload starts with (the pipeline's default for its file type)."""
        if path is None:
            return None
        chosen = default_photo_type(path)
        return chosen if chosen in pipe.photo_types else CLEAN

    # .change also fires for an example and a pasted image, not only for an upload.
    image.change(photo_type_of, image, photo_type, api_visibility="private", queue=False, show_progress="hidden")
    inputs = [image, scale, photo_type]
    run.click(upscale, inputs, [slider, download, summary], api_name="upscale", **model_event("sr"))


TAB = Tab(id="sr", title="Super-resolution", build=build)
