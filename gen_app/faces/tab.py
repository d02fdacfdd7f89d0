"""The face-generation tab: wires Gradio components to FacePipeline."""

from __future__ import annotations

import gradio as gr
from PIL import Image

from gen_app.faces.pipeline import MAX_FACES, MAX_MORPH_FRAMES, PSI_RANGE, RANDOM, FacePipeline
from gen_app.gpu import on_gpu
from gen_app.images import image_grid, save_png
from gen_app.loading import CHECKPOINTS
from gen_app.outputs import new_output_path
from gen_app.seeding import MAX_SEED, random_seed
from gen_app.ui import MODEL_EVENT, Tab, about_panel, user_errors

INTRO = """Each seed is one face from a GAN trained here on 30,000 procedurally drawn
[facesjs](https://github.com/zengm-games/facesjs) cartoon faces. Same seed, same face, on any machine.
**Truncation ψ** pulls faces towards the average face: lower is cleaner and more typical, higher is more varied.
**Attributes** fix what you want (say, glasses or long hair) and leave the rest to the seed.
**Morph** walks smoothly from one seed's face to another's."""


def build() -> None:
    pipe = FacePipeline.load()

    names = list(pipe.attributes)

    @on_gpu
    @user_errors
    def generate(seed: float, count: float, psi: float, *chosen: str) -> tuple[list[tuple[str, str]], int]:
        faces = pipe.generate(seed, count, psi, dict(zip(names, chosen, strict=True)))
        files = [
            (str(save_png(image, new_output_path(f"face-{s}", ".png"), {**faces.params, "seed": s})), f"seed {s}")
            for image, s in zip(faces.images, faces.seeds, strict=True)
        ]
        return files, faces.seeds[0]

    @on_gpu
    @user_errors
    def morph(seed_a: float, seed_b: float, frames: float, psi: float, *chosen: str) -> tuple[str, str]:
        faces = pipe.morph(seed_a, seed_b, frames, psi, dict(zip(names, chosen, strict=True)))
        gif = new_output_path(f"morph-{faces.seeds[0]}-{faces.seeds[1]}", ".gif")
        loop = faces.images + faces.images[-2:0:-1]  # there and back again
        loop[0].save(gif, save_all=True, append_images=loop[1:], duration=80, loop=0, comment=str(faces.params))
        strip_images = [image.resize((128, 128), Image.LANCZOS) for image in faces.images]
        strip = save_png(image_grid(strip_images, columns=8), new_output_path("morph-strip", ".png"), faces.params)
        return str(gif), str(strip)

    def pick_seed() -> int:
        return random_seed()

    gr.Markdown(INTRO)
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=280):
            seed = gr.Number(label="Seed", value=42, precision=0, minimum=0, maximum=MAX_SEED)
            with gr.Row():
                run = gr.Button("Generate", variant="primary", scale=2)
                lucky = gr.Button("Random seed", scale=1)
            count = gr.Slider(1, MAX_FACES, value=8, step=1, label="Number of faces")
            psi = gr.Slider(*PSI_RANGE, value=1.0, step=0.05, label="Truncation ψ", info="0 = the average face")
            with gr.Accordion("Attributes", open=False):
                attribute_inputs = [
                    gr.Dropdown([RANDOM, *classes], value=RANDOM, label=name.capitalize(), min_width=120)
                    for name, classes in pipe.attributes.items()
                ]
            seed_used = gr.Number(label="First seed used", precision=0, interactive=False)
        with gr.Column(scale=2, min_width=300):
            gallery = gr.Gallery(label="Faces", columns=4, height="auto", object_fit="contain", preview=False)
    inputs = [seed, count, psi, *attribute_inputs]

    def example(seed: int, count: int, psi: float, **fixed: str) -> list:
        return [seed, count, psi, *(fixed.get(name.replace(" ", "_").replace("/", "_"), RANDOM) for name in names)]

    examples = {
        "8 faces": example(42, 8, 1.0),
        "16 more typical faces (ψ = 0.7)": example(2024, 16, 0.7),
        "4 clean faces (ψ = 0.3)": example(7, 4, 0.3),
        "the mean face (ψ = 0)": example(123456, 4, 0.0),
    }
    if {"glasses", "hair style"} <= set(names):
        examples["8 faces with glasses and long hair"] = example(99, 8, 0.7, glasses="glasses", hair_style="long")
    gr.Examples(
        list(examples.values()),
        inputs=inputs,
        outputs=[gallery, seed_used],
        fn=generate,
        run_on_click=True,
        example_labels=list(examples),
        label="Examples",
        api_name="generate_faces_example",
        api_visibility="private",
    )
    with gr.Accordion("Morph between two seeds", open=False):
        gr.Markdown("A straight walk in the generator's latent (w) space, at the truncation ψ set above.")
        with gr.Row():
            seed_a = gr.Number(label="Start seed", value=42, precision=0, minimum=0, maximum=MAX_SEED, min_width=120)
            seed_b = gr.Number(label="End seed", value=1234, precision=0, minimum=0, maximum=MAX_SEED, min_width=120)
            frames = gr.Slider(2, MAX_MORPH_FRAMES, value=16, step=1, label="Frames", min_width=160)
        morph_run = gr.Button("Morph", variant="primary")
        with gr.Row():
            animation = gr.Image(label="Animation", type="filepath", interactive=False, min_width=200)
            strip = gr.Image(label="Frames", type="filepath", interactive=False, min_width=200)
    about_panel(CHECKPOINTS / "faces" / "README.md", pipe.origin)

    run.click(generate, inputs, [gallery, seed_used], api_name="generate_faces", **MODEL_EVENT)
    # Same function as generate_faces: callable from the page, kept out of the API listing.
    private = {"api_visibility": "private", **MODEL_EVENT}
    seed.submit(generate, inputs, [gallery, seed_used], api_name="generate_faces_on_enter", **private)
    lucky.click(pick_seed, None, seed, api_name="random_seed", queue=False).then(
        generate, inputs, [gallery, seed_used], api_name="generate_faces_random", **private
    )
    morph_inputs = [seed_a, seed_b, frames, psi, *attribute_inputs]
    morph_run.click(morph, morph_inputs, [animation, strip], api_name="morph_faces", **MODEL_EVENT)


TAB = Tab(id="faces", title="Face generation", build=build)
