"""The style-transfer tab: wires Gradio components to StylePipeline (two modes, one sub-tab each)."""

from __future__ import annotations

import time
from pathlib import Path

import gradio as gr
from PIL import Image

from gen_app.device import app_priority, large_memory_work, low_priority, quick
from gen_app.gpu import on_gpu
from gen_app.images import save_png
from gen_app.outputs import new_output_path, save_for_display
from gen_app.style.pipeline import (
    ANY_STYLE_MAX_SECONDS,
    ANY_STYLE_SIDES,
    ANY_STYLE_STEPS_RANGE,
    BLEND_RANGE,
    MAX_INPUT_PIXELS,
    OUTPUT_SIDES,
    STRENGTH_RANGE,
    STYLES_DIR,
    StylePipeline,
)
from gen_app.ui import NumberRadio, Tab, about_panel, described, model_event, page_only, user_errors
from gen_app.uploads import ImageUpload

EXAMPLES = Path(__file__).resolve().parent / "examples"
STYLE_EXAMPLES = STYLES_DIR / "examples"

INTRO = f"""Turn a photo into a painting. **Painters' styles**: pick one of 16 public-domain paintings; one small
network trained here paints any of them in a fraction of a second. Lower the strength for a gentler version,
blend two paintings, or keep the photo's own colours. **Any style image**: upload any picture as the style;
the app then repaints the photo step by step (an optimisation, a few seconds, at most {ANY_STYLE_MAX_SECONDS:.0f} s),
showing progress."""


def labelled(image: Image.Image) -> Image.Image:
    """RGB for the comparison slider (transparent areas shown on white)."""
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, "white")
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB")


def build() -> None:
    pipe = StylePipeline.load()
    choices = [(style.label, style.id) for style in pipe.styles]
    gallery_items = [(str(style.file), style.label) for style in pipe.styles]

    limits = {
        "strength": "{:g} to {:g}".format(*STRENGTH_RANGE),
        "blend": "{:g} to {:g}".format(*BLEND_RANGE),
        "sizes": ", ".join(map(str, OUTPUT_SIDES)),
        "any_sizes": ", ".join(map(str, ANY_STYLE_SIDES)),
        "max_seconds": f"{ANY_STYLE_MAX_SECONDS:.0f}",
        "steps": "{} to {}".format(*ANY_STYLE_STEPS_RANGE),
        "megapixels": f"{MAX_INPUT_PIXELS / 1e6:g}",
    }

    @described(**limits)
    @on_gpu
    @quick
    @app_priority
    @user_errors
    def stylize(path, style, strength, blend_with, blend, keep_colours, size):
        """Paint a photo in the style of one of 16 public-domain paintings (instant, a feed-forward network).

        Args:
            path: the photo (PNG, JPEG, WebP; up to {megapixels} megapixels; shrunk to the output size), {file}.
            style: one of the listed paintings.
            strength: {strength}; 0 is the photo, 1 the full style.
            blend_with: a second painting to blend in, or "" for none.
            blend: {blend}; the second painting's share.
            keep_colours: keep the photo's own colours.
            size: the result's longest side in pixels: {sizes}.

        Returns:
            the photo and the painting, for comparison.
            the painting: a PNG file (URL) with its settings in its text chunks.
            a one-line summary.
        """
        started = time.perf_counter()
        result = pipe.stylize(path, style, strength, blend_with, blend, keep_colours, size)
        seconds = time.perf_counter() - started
        for notice in result.notices:
            gr.Warning(notice)
        download = save_png(result.image, new_output_path(f"painted-{style}", ".png"), result.params)
        w, h = result.image.size
        summary = f"**{pipe.style(style).label}**, strength {strength:g}: {w}×{h} in {seconds * 1000:.0f} ms."
        shown = (save_for_display(labelled(result.photo), "photo"), save_for_display(labelled(result.image), "painted"))
        return shown, str(download), summary

    @described(**limits)
    @on_gpu
    @low_priority
    @user_errors
    def stylize_any(path, style_path, steps, size, keep_colours):
        """Paint a photo in the style of any image (an optimisation: a few seconds, at most {max_seconds} s).

        Args:
            path: the photo (PNG, JPEG, WebP), {file}.
            style_path: the style image (a painting, a texture...), {file}.
            steps: optimisation iterations, {steps}; more is closer to the style.
            size: the result's longest side in pixels: {any_sizes}.
            keep_colours: keep the photo's own colours.

        Returns:
            the painting.
            the painting: a PNG file (URL) with its settings in its text chunks.
            a one-line status.
        """
        with large_memory_work():  # its time cap starts once it has its turn
            started = time.perf_counter()
            for result in pipe.stylize_any(path, style_path, steps, size, keep_colours):
                seconds = time.perf_counter() - started
                status = f"Iteration {result.step} of {result.steps} ({seconds:.0f} s)."
                if result.step < result.steps:
                    yield save_for_display(labelled(result.image), "painting-so-far"), None, status
        for notice in result.notices:
            gr.Warning(notice)
        params = {"model": "gen_app style (optimisation)", "steps": result.step, "size": list(result.image.size)}
        params["keep_colours"] = bool(keep_colours)
        download = save_png(result.image, new_output_path("painted-any", ".png"), params)
        yield save_for_display(labelled(result.image), "painting"), str(download), f"Done: {status}"

    @page_only
    def pick_from_gallery(event: gr.SelectData) -> str:
        index = event.index
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(pipe.styles):
            raise gr.Error("Choose a painting by clicking it in the gallery.")
        return pipe.styles[index].id

    gr.Markdown(INTRO)
    with gr.Tabs(overflow_behavior="wrap"):
        with gr.Tab("Painters' styles (instant)", id="style-fast"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=280):
                    photo = ImageUpload(
                        label="Photo", type="filepath", image_mode=None, sources=["upload", "webcam", "clipboard"]
                    )
                    style = gr.Dropdown(choices, value=choices[0][1], label="Style")
                    gallery = gr.Gallery(
                        gallery_items,
                        label="Click a painting to choose it",
                        columns=4,
                        height=260,
                        allow_preview=False,
                        object_fit="cover",
                    )
                    strength = gr.Slider(
                        *STRENGTH_RANGE, value=1, step=0.05, label="Strength (0 = the photo, 1 = full style)"
                    )
                    keep_colours = gr.Checkbox(label="Keep the photo's colours")
                    with gr.Accordion("Blend two styles, output size", open=False):
                        blend_with = gr.Dropdown([("(none)", "")] + choices, value="", label="Blend with")
                        blend = gr.Slider(*BLEND_RANGE, value=0.5, step=0.05, label="Share of the second style")
                        size = NumberRadio(OUTPUT_SIDES, value=768, label="Output size (longest side, px)")
                    run = gr.Button("Paint", variant="primary")
                    gr.Examples(
                        [[str(EXAMPLES / "chelsea.jpg"), "starry_night"], [str(EXAMPLES / "coffee.jpg"), "great_wave"]]
                        + [[str(EXAMPLES / "astronaut.jpg"), "composition_viii"]],
                        inputs=[photo, style],
                        label="Examples",
                    )
                with gr.Column(scale=2, min_width=300):
                    slider = gr.ImageSlider(label="Photo ↔ painting", type="filepath", max_height=640)
                    summary = gr.Markdown()
                    download = gr.File(label="Download (PNG with its settings)")
        with gr.Tab("Any style image (optimisation)", id="style-any"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=280):
                    any_photo = ImageUpload(
                        label="Photo", type="filepath", image_mode=None, sources=["upload", "webcam", "clipboard"]
                    )
                    any_style = ImageUpload(
                        label="Style image (a painting, a texture...)",
                        type="filepath",
                        image_mode=None,
                        sources=["upload", "clipboard"],
                    )
                    steps = gr.Slider(
                        *ANY_STYLE_STEPS_RANGE, value=100, step=10, label="Iterations (more: closer to the style)"
                    )
                    any_size = NumberRadio(ANY_STYLE_SIDES, value=384, label="Output size (longest side, px)")
                    any_colours = gr.Checkbox(label="Keep the photo's colours")
                    with gr.Row():
                        paint_any = gr.Button("Paint", variant="primary", scale=2)
                        stop_any = gr.Button("Stop", variant="stop", scale=1)
                    gr.Examples(
                        [[str(EXAMPLES / "chelsea.jpg"), str(STYLE_EXAMPLES / "ejiri.jpg")]]
                        + [[str(EXAMPLES / "coffee.jpg"), str(STYLE_EXAMPLES / "ramparts_aigues_mortes.jpg")]],
                        inputs=[any_photo, any_style],
                        label="Examples (paintings not among the 16)",
                    )
                with gr.Column(scale=2, min_width=300):
                    any_result = gr.Image(label="Painting (updates as it improves)", type="filepath")
                    any_status = gr.Markdown()
                    any_download = gr.File(label="Download (PNG with its settings)")
    about_panel(pipe.folder, pipe.origin)

    gallery.select(pick_from_gallery, None, style, api_visibility="private")
    inputs = [photo, style, strength, blend_with, blend, keep_colours, size]
    run.click(stylize, inputs, [slider, download, summary], api_name="stylize", **model_event("style"))
    painting = paint_any.click(
        stylize_any,
        [any_photo, any_style, steps, any_size, any_colours],
        [any_result, any_download, any_status],
        api_name="stylize_any",
        **model_event("style-any"),
    )
    stop_any.click(None, None, None, cancels=[painting], api_name="stop_stylize_any", api_visibility="private")


TAB = Tab(id="style", title="Style transfer", build=build)
