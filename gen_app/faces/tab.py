"""The face-generation tab: wires Gradio components to FacePipeline."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import gradio as gr
from PIL import Image

from gen_app.device import quick
from gen_app.faces.pipeline import (
    DISPLAY_SIZE,
    MAX_FACES,
    MAX_MORPH_FRAMES,
    RANDOM,
    TEMPERATURE_RANGE,
    VARIATION_RANGE,
    FacePipeline,
)
from gen_app.gpu import on_gpu
from gen_app.images import image_grid, save_gif, save_png
from gen_app.outputs import new_output_path
from gen_app.seeding import MAX_SEED, random_seed
from gen_app.ui import Tab, about_panel, described, model_event, page_only, user_errors
from gen_app.worker import hosted

INTRO = """Each seed is one cartoon face, made in two steps by two small networks trained here on 30,000
[facesjs](https://github.com/zengm-games/facesjs) faces: a **prior** (a small recurrent network) picks the face's
parts — hair, eyes, mouth, colours, hat… — and a **renderer** draws them at 128 px (a convolutional network, with
the eyes, eyebrows, mouth, nose and lines as learned sprites placed where facesjs puts them).
Same seed, same face, on any machine. **Temperature** below 1 gives more typical faces (0: the most likely parts).
**Attributes** and **Parts** fix what you want and leave the rest to the seed. Click a face, then
**Variations** for more like it, or **Morph** to walk from one face to another."""


def keyword(name: str) -> str:
    """An attribute's or part's name as a parameter name ("hat/accessory" -> hat_accessory)."""
    return name.replace(" ", "_").replace("/", "_")


def with_choices(names: list[str]) -> Callable[[Callable], Callable]:
    """Give `fn(..., *chosen)` a signature that names each attribute and part, so the API and the MCP tools list
    gender, facial_hair... (each defaulting to "random") in place of param_3, param_4...; Gradio still calls it with
    the values in order."""

    def name(fn: Callable) -> Callable:
        fixed = [p for p in inspect.signature(fn).parameters.values() if p.kind is not p.VAR_POSITIONAL]
        chosen = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=RANDOM) for n in names]
        fn.__signature__ = inspect.Signature(fixed + chosen)
        return fn

    return name


def build() -> None:
    pipe = hosted("faces", FacePipeline.load)  # in the quick models' process (gen_app.worker)
    attribute_names, part_names = list(pipe.attributes), list(pipe.parts)

    choice_names = [keyword(name) for name in attribute_names + part_names]

    def split(chosen: tuple[str, ...]) -> tuple[dict, dict]:
        values = list(chosen) + [RANDOM] * (len(attribute_names) + len(part_names) - len(chosen))
        attributes = dict(zip(attribute_names, values[: len(attribute_names)], strict=True))
        parts = dict(zip(part_names, values[len(attribute_names) :], strict=True))
        return attributes, parts

    def gallery_files(faces, captions: list[str], prefix: str, each: list[dict]) -> list[tuple[str, str]]:
        """PNG files with the settings, the image's own seed or variation, and its facesjs parameters."""
        return [
            (str(save_png(image, new_output_path(prefix, ".png"), params)), caption)
            for image, params, caption in zip(faces.images, faces.metadata(each), captions, strict=True)
        ]

    limits = {
        "max_seed": MAX_SEED,
        "max_faces": MAX_FACES,
        "max_frames": MAX_MORPH_FRAMES,
        "temperature": "{:g} to {:g}".format(*TEMPERATURE_RANGE),
        "variation": "{:g} to {:g}".format(*VARIATION_RANGE),
        "size": DISPLAY_SIZE,
    }

    @with_choices(choice_names)
    @described(**limits)
    @on_gpu
    @quick
    @user_errors
    def generate_faces(
        seed: float, count: float, temperature: float, *chosen: str
    ) -> tuple[list[tuple[str, str]], int]:
        """Draw cartoon faces ({size}x{size} PNG): one per seed, for seeds seed, seed+1, ...; the same seed always
        gives the same face. Every parameter after temperature fixes an attribute (gender, facial hair...) or a part
        (hair, eyes...): "random" (the default) leaves it to the seed, or one of the values it lists.

        Args:
            seed: the first seed, a whole number from 0 to {max_seed}.
            count: how many faces, 1 to {max_faces}.
            temperature: {temperature}; below 1 gives more typical faces, 0 the most likely parts.

        Returns:
            the faces: PNG files (URLs) captioned "seed N"; each PNG holds its settings and face in its text chunks.
            the first seed used.
        """
        faces = pipe.generate(seed, count, temperature, *split(chosen))
        captions, each = [f"seed {s}" for s in faces.seeds], [{"seed": s} for s in faces.seeds]
        files = gallery_files(faces, captions, "face", each)
        return files, faces.seeds[0]

    @with_choices(choice_names)
    @described(**limits)
    @on_gpu
    @quick
    @user_errors
    def face_variations(seed: float, count: float, amount: float, temperature: float, *chosen: str) -> list:
        """Variations of one face: the first image is the seed's face, each other keeps most of its parts and
        redraws some. Attributes and parts (the parameters after temperature) work as in generate_faces.

        Args:
            seed: the face to vary, a whole number from 0 to {max_seed}.
            count: how many faces, the original included, 2 to {max_faces}.
            amount: {variation}; the share of the face's free parameters that each variation redraws.
            temperature: {temperature}; below 1 gives more typical faces.

        Returns:
            the faces: PNG files (URLs) with their settings in their text chunks.
        """
        faces = pipe.variations(seed, count, amount, temperature, *split(chosen))
        captions = [f"seed {faces.seeds[0]}"] + [f"variation {i}" for i in range(1, len(faces.images))]
        each = [{"variation": i} for i in range(len(faces.images))]
        return gallery_files(faces, captions, f"variation-{faces.seeds[0]}", each)

    @with_choices(choice_names)
    @described(**limits)
    @on_gpu
    @quick
    @user_errors
    def morph_faces(seed_a: float, seed_b: float, frames: float, temperature: float, *chosen: str) -> tuple[str, str]:
        """A morph from one face to another (a straight walk in the renderer's input space), as an animated GIF
        and a PNG strip of the frames. Attributes and parts (the parameters after temperature) work as in
        generate_faces.

        Args:
            seed_a: the first face's seed, 0 to {max_seed}.
            seed_b: the last face's seed, 0 to {max_seed}.
            frames: 2 to {max_frames}.
            temperature: {temperature}.

        Returns:
            the animation: a GIF file (URL) that goes there and back.
            the frames: a PNG file (URL) with the morph's settings in its text chunks.
        """
        faces = pipe.morph(seed_a, seed_b, frames, temperature, *split(chosen))
        gif = new_output_path(f"morph-{faces.seeds[0]}-{faces.seeds[1]}", ".gif")
        loop = faces.images + faces.images[-2:0:-1]  # there and back again
        save_gif(loop, gif, faces.params, frame_ms=80)
        strip_images = [image.resize((128, 128), Image.NEAREST) for image in faces.images]
        strip = save_png(image_grid(strip_images, columns=8), new_output_path("morph-strip", ".png"), faces.params)
        return str(gif), str(strip)

    @page_only
    def pick_seed() -> int:
        return random_seed()

    def selected_seed(current: float, event: gr.SelectData) -> float:
        """The seed of the clicked face (its caption), for Variations and Morph; unchanged for anything else."""
        caption = (event.value or {}).get("caption") if isinstance(event.value, dict) else None
        words = str(caption or "").split()
        return int(words[1]) if len(words) == 2 and words[0] == "seed" and words[1].isdigit() else current

    gr.Markdown(INTRO)
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=280):
            seed = gr.Number(label="Seed", value=42, precision=0, minimum=0, maximum=MAX_SEED)
            with gr.Row():
                run = gr.Button("Generate", variant="primary", scale=2)
                lucky = gr.Button("Random seed", scale=1)
            count = gr.Slider(1, MAX_FACES, value=8, step=1, label="Number of faces")
            temperature = gr.Slider(
                *TEMPERATURE_RANGE, value=1.0, step=0.05, label="Temperature", info="0 = the most likely parts"
            )
            with gr.Accordion("Attributes", open=False):
                attribute_inputs = [
                    gr.Dropdown([RANDOM, *classes], value=RANDOM, label=name.capitalize(), min_width=120)
                    for name, classes in pipe.attributes.items()
                ]
            with gr.Accordion("Parts", open=False):
                part_inputs = [
                    gr.Dropdown([RANDOM, *values], value=RANDOM, label=name.capitalize(), min_width=120)
                    for name, values in pipe.parts.items()
                ]
            seed_used = gr.Number(label="First seed used", precision=0, interactive=False)
        with gr.Column(scale=2, min_width=300):
            gallery = gr.Gallery(label="Faces", columns=4, height="auto", object_fit="contain", preview=False)
    choices = [*attribute_inputs, *part_inputs]
    inputs = [seed, count, temperature, *choices]

    def example(seed: int, count: int, temperature: float, **fixed: str) -> list:
        if unknown := set(fixed) - set(choice_names):  # e.g. a part this renderer cannot draw
            raise ValueError(f"an example fixes {sorted(unknown)}, which the tab does not offer")
        return [seed, count, temperature, *(fixed.get(name, RANDOM) for name in choice_names)]

    examples = {
        "8 faces": example(42, 8, 1.0),
        "16 more typical faces (temperature 0.7)": example(2024, 16, 0.7),
        "8 bearded faces with short hair": example(99, 8, 1.0, facial_hair="facial hair", hair_style="short"),
        "8 faces with a hat": example(5, 8, 1.0, hat_accessory="accessory", headwear="hat"),
        "the most likely face (temperature 0)": example(123456, 1, 0.0),
    }
    # Before the examples: they register an event named after the function too, and the first one keeps the name.
    run.click(generate_faces, inputs, [gallery, seed_used], api_name="generate_faces", **model_event("faces"))
    gr.Examples(
        list(examples.values()),
        inputs=inputs,
        outputs=[gallery, seed_used],
        fn=generate_faces,
        run_on_click=True,
        example_labels=list(examples),
        label="Examples",
        api_name="generate_faces_example",
        api_visibility="private",
    )
    with gr.Accordion("Variations: more like this one", open=False):
        gr.Markdown("Keeps most of a face's parts and redraws a few. Click a face above to pick its seed.")
        with gr.Row():
            variation_seed = gr.Number(label="Seed", value=42, precision=0, minimum=0, maximum=MAX_SEED, min_width=120)
            variation_count = gr.Slider(2, MAX_FACES, value=8, step=1, label="Faces", min_width=160)
            amount = gr.Slider(*VARIATION_RANGE, value=0.25, step=0.05, label="How much to vary", min_width=160)
        variation_run = gr.Button("Variations", variant="primary")
        variation_gallery = gr.Gallery(label="Variations", columns=4, height="auto", object_fit="contain")
    with gr.Accordion("Morph between two seeds", open=False):
        gr.Markdown("A straight walk in the renderer's input space, from one face's parts to the other's.")
        with gr.Row():
            seed_a = gr.Number(label="Start seed", value=42, precision=0, minimum=0, maximum=MAX_SEED, min_width=120)
            seed_b = gr.Number(label="End seed", value=1234, precision=0, minimum=0, maximum=MAX_SEED, min_width=120)
            frames = gr.Slider(2, MAX_MORPH_FRAMES, value=16, step=1, label="Frames", min_width=160)
        morph_run = gr.Button("Morph", variant="primary")
        with gr.Row():
            animation = gr.Image(label="Animation", type="filepath", interactive=False, min_width=200)
            strip = gr.Image(label="Frames", type="filepath", interactive=False, min_width=200)
    about_panel(list(pipe.folders.values()), list(pipe.origins.values()))

    # Same function as generate_faces: callable from the page, kept out of the API listing.
    private = {"api_visibility": "private", **model_event("faces")}
    seed.submit(generate_faces, inputs, [gallery, seed_used], api_name="generate_faces_on_enter", **private)
    lucky.click(pick_seed, None, seed, api_name="random_seed", queue=False).then(
        generate_faces, inputs, [gallery, seed_used], api_name="generate_faces_random", **private
    )
    gallery.select(
        selected_seed, variation_seed, variation_seed, api_name="select_face", api_visibility="private", queue=False
    )
    variation_inputs = [variation_seed, variation_count, amount, temperature, *choices]
    variation_run.click(
        face_variations, variation_inputs, variation_gallery, api_name="face_variations", **model_event("faces")
    )
    morph_inputs = [seed_a, seed_b, frames, temperature, *choices]
    morph_run.click(morph_faces, morph_inputs, [animation, strip], api_name="morph_faces", **model_event("faces"))


TAB = Tab(id="faces", title="Face generation", build=build)
