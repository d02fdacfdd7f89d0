"""Builds the Gradio app: one tab per entry in TABS (add a task folder, then one line here)."""

from __future__ import annotations

import gradio as gr

from gen_app.audio.tab import TAB as AUDIO
from gen_app.faces.tab import TAB as FACES
from gen_app.sr.tab import TAB as SUPER_RESOLUTION
from gen_app.style.tab import TAB as STYLE
from gen_app.text.tab import TAB as TEXT
from gen_app.ui import AppBlocks, Tab

TABS: list[Tab] = [FACES, STYLE, SUPER_RESOLUTION, TEXT, AUDIO]

HEADER = """# gen_app: small generative models, trained here
Every tab runs a PyTorch generator this project trained itself (scripts in `train/`, model cards in
`checkpoints/`). Pick a tab, press the main button, and judge for yourself. Runs on a CPU; faster on a GPU."""

# The page is as wide as the window, never as wide as its content: without `width: 100%`, `margin: auto` makes the
# container (a flex item) shrink-to-fit, so any block wider than a phone (e.g. an audio player's waveform, 20 px
# per second of sound) widened the whole page. Wide content now stays inside its own block.
CSS = """
.gradio-container { width: 100%; max-width: 1200px !important; margin: auto; }
@media (max-width: 640px) { .gradio-container { padding: 4px !important; } }
"""

# Passed to launch(): Gradio 6 takes theme and css there, not in gr.Blocks().
LAUNCH_OPTIONS = {"theme": gr.themes.Soft(), "css": CSS, "max_file_size": "25mb"}
QUEUE_SIZE = 64


def build_demo() -> gr.Blocks:
    with AppBlocks(title="gen_app: generative models demo") as demo:
        gr.Markdown(HEADER)
        with gr.Tabs(overflow_behavior="wrap"):  # on a phone, tab titles wrap onto more rows, all in sight
            for tab in TABS:
                with gr.Tab(tab.title, id=tab.id):
                    tab.build()
    demo.queue(max_size=QUEUE_SIZE)
    return demo
