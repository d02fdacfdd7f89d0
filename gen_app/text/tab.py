"""The text-generation tab: wires Gradio components to TextPipeline, streaming token by token."""

from __future__ import annotations

import gradio as gr

from gen_app.device import quick_work
from gen_app.gpu import on_gpu
from gen_app.sampling import (
    NEW_TOKENS_RANGE,
    REPETITION_PENALTY_RANGE,
    TEMPERATURE_RANGE,
    TOP_K_RANGE,
    TOP_P_RANGE,
    SamplingSettings,
)
from gen_app.seeding import MAX_SEED, random_seed
from gen_app.text.pipeline import MAX_PROMPT_CHARS, TextPipeline
from gen_app.ui import STREAM_SECONDS, Tab, about_panel, described, model_event, page_only, throttled, user_errors
from gen_app.worker import hosted

INTRO = """A small GPT trained here, from scratch, on 34 of Shakespeare's plays (four more are held out to measure
it). Give it a speaker in capitals and a first line, and watch it continue the scene, a word piece (token) at
a time. **Temperature** makes it bolder (higher) or safer (lower; 0 always picks the likeliest token);
**top-k / top-p** cut off unlikely tokens; **repetition penalty** discourages recently used ones.
Same seed and settings, same text. **Stop** stops at once."""

EXAMPLES = [
    "MACBETH:\nIs this a dagger which I see before me,\n",
    "JULIET:\nO gentle night,",
    "KING HENRY V:\nOnce more unto the breach, dear friends,",
    "ACT I\nSCENE I. A street in Venice.\n\n[Enter two Gentlemen]\n\nFIRST GENTLEMAN:\n",
]


def build() -> None:
    pipe = hosted("text", TextPipeline.load)  # in the quick models' process (gen_app.worker)

    def span(low: float, high: float) -> str:
        return f"{low:g} to {high:g}"

    @described(
        prompt_chars=f"{MAX_PROMPT_CHARS:,}",
        tokens=span(*NEW_TOKENS_RANGE),
        temperature=span(*TEMPERATURE_RANGE),
        top_k=span(*TOP_K_RANGE),
        top_p=span(*TOP_P_RANGE),
        penalty=span(*REPETITION_PENALTY_RANGE),
        max_seed=MAX_SEED,
    )
    @on_gpu
    @user_errors
    def generate_text(prompt, max_new_tokens, temperature, top_k, top_p, repetition_penalty, seed):
        """Continue a prompt with a small GPT trained on Shakespeare's plays (a speaker in capitals and a line work
        best, e.g. "ROMEO:\nBut soft,"). The same seed and settings give the same text.

        Args:
            prompt: the text to continue, up to {prompt_chars} characters.
            max_new_tokens: {tokens} (a token is about 2.6 characters).
            temperature: {temperature}; higher is bolder, 0 always picks the likeliest token.
            top_k: {top_k}; keep only the k likeliest tokens (0: off).
            top_p: {top_p}; keep the likeliest tokens up to this probability (1: off).
            repetition_penalty: {penalty}; discourages recent tokens (1: off).
            seed: 0 to {max_seed}.

        Returns:
            the prompt and its continuation.
            the seed used.
        """
        settings = SamplingSettings(max_new_tokens, temperature, top_k, top_p, repetition_penalty, seed).validated()
        prepared = pipe.prepare(prompt)
        for notice in prepared.notices:
            gr.Warning(notice)
        with quick_work():  # long requests in this process wait while it runs (gen_app.device)
            for continuation in throttled(pipe.stream(prepared, settings, every=STREAM_SECONDS)):
                yield prompt + continuation, settings.seed

    gr.Markdown(INTRO)
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=280):
            prompt = gr.Textbox(label="Prompt", value=EXAMPLES[0], lines=4, max_lines=12)
            with gr.Row():
                run = gr.Button("Generate", variant="primary", scale=2)
                stop = gr.Button("Stop", variant="stop", scale=1)
            with gr.Row():
                seed = gr.Number(label="Seed", value=1, precision=0, min_width=120)
                lucky = gr.Button("Random seed", min_width=120)
            max_new_tokens = gr.Slider(
                *NEW_TOKENS_RANGE, value=300, step=1, label="Max new tokens", info="a token is ~2.6 characters"
            )
            temperature = gr.Slider(*TEMPERATURE_RANGE, value=0.8, step=0.05, label="Temperature")
            with gr.Accordion("More sampling settings", open=False):
                top_k = gr.Slider(*TOP_K_RANGE, value=0, step=1, label="Top-k", info="0 = off")
                top_p = gr.Slider(*TOP_P_RANGE, value=1.0, step=0.05, label="Top-p", info="1 = off")
                repetition_penalty = gr.Slider(
                    *REPETITION_PENALTY_RANGE, value=1.0, step=0.05, label="Repetition penalty", info="1 = off"
                )
            seed_used = gr.Number(label="Seed used", precision=0, interactive=False)
        with gr.Column(scale=2, min_width=300):
            output = gr.Textbox(label="Text", lines=20, max_lines=40, buttons=["copy"], autoscroll=True)
    gr.Examples([[e] for e in EXAMPLES], inputs=[prompt], label="Example prompts")
    about_panel(pipe.folder, pipe.origin)

    inputs = [prompt, max_new_tokens, temperature, top_k, top_p, repetition_penalty, seed]
    generation = run.click(generate_text, inputs, [output, seed_used], api_name="generate_text", **model_event("text"))
    lucky.click(page_only(lambda: random_seed()), None, seed, api_name="text_random_seed", queue=False)
    # Stop cancels the running stream at once (and only this browser's job).
    stop.click(None, None, None, cancels=[generation], api_name="stop_text", api_visibility="private")


TAB = Tab(id="text", title="Text generation", build=build)
