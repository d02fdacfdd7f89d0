"""Builds the Gradio app: one tab per entry in TABS (add a task folder, then one line here).

Each tab starts on its own: one whose model cannot be loaded (a missing or damaged checkpoint) shows what failed
and how to fix it, and the others serve. The server also answers `/metrics` (gen_app.metrics: Prometheus)."""

from __future__ import annotations

import logging
import time
import weakref

import gradio as gr

from gen_app import loading, metrics, outputs, worker
from gen_app.audio.tab import TAB as AUDIO
from gen_app.check.tab import TAB as CHECK
from gen_app.faces.tab import TAB as FACES
from gen_app.loading import ModelLoadError, short, shown_path
from gen_app.metrics import ObservedBlocks
from gen_app.sr.tab import TAB as SUPER_RESOLUTION
from gen_app.style.tab import TAB as STYLE
from gen_app.text.tab import TAB as TEXT
from gen_app.ui import Tab

log = logging.getLogger(__name__)

TABS: list[Tab] = [FACES, STYLE, SUPER_RESOLUTION, TEXT, AUDIO, CHECK]

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

# Gradio keeps a copy of every component's config for each session (370 kB for this app) and keeps up to 10,000
# sessions: an API client that opens a new session for each call (the REST route does) grew the app by 0.4 GB over
# 1,000 calls. The app keeps no state of its own in a session (no gr.State, no component updates), so an evicted
# session only costs its next request a new copy (12 ms; 45 ms on a busy CPU). 64 sessions: about 24 MB (256 made
# the first 256 calls of a soak add 0.1 GB).
SESSIONS_KEPT = 64

# Passed to launch(): Gradio 6 takes theme and css there, not in gr.Blocks().
# app_kwargs: the routes added to the app's FastAPI server (/metrics).
LAUNCH_OPTIONS = {
    "theme": gr.themes.Soft(),
    "css": CSS,
    "max_file_size": "25mb",
    "state_session_capacity": SESSIONS_KEPT,
    "app_kwargs": {"routes": metrics.routes()},
}
QUEUE_SIZE = 64


def failure_text(tab: Tab, error: Exception) -> str:
    """What a tab shows in place of its controls when it could not start."""
    if isinstance(error, ModelLoadError):
        return (
            f"### {tab.title} is not available\n"
            f"Its model could not be loaded, so this tab is switched off; the other tabs work.\n\n"
            f"**What failed:** `{shown_path(error.file)}` {error.problem}.\n\n"
            f"**How to fix it:** {error.fix}; then restart the app."
        )
    return (
        f"### {tab.title} is not available\n"
        f"This tab could not start ({type(error).__name__}: {short(error)}); the other tabs work. "
        "The details are in the server's log."
    )


def build_tab(tab: Tab) -> bool:
    """Build `tab` inside the current gr.Tab; if it fails (its model cannot be loaded, or anything else), log it and
    show why instead. Returns whether the tab serves."""
    started = time.perf_counter()
    try:
        tab.build()
    except Exception as error:
        log.error("the %s tab could not start: %s", tab.id, error, exc_info=not isinstance(error, ModelLoadError))
        gr.Markdown(failure_text(tab, error), elem_id=f"{tab.id}-unavailable")
        metrics.TAB_STATES[tab.id] = False
        return False
    metrics.TAB_STATES[tab.id] = True
    log.info("built the %s tab in %.2f s", tab.id, time.perf_counter() - started)
    return True


def build_demo() -> gr.Blocks:
    loading.reset_hub()  # a new start-up: one Hub probe and one time budget for all its tasks
    quick = worker.start()  # before any model loads: the quick models' process (gen_app.worker), forked from this one
    # Gradio's sweep removes the outputs (and uploads) of past requests: disk stays bounded (gen_app/outputs.py).
    with ObservedBlocks(title="gen_app: generative models demo", delete_cache=outputs.CACHE_SWEEP) as demo:
        gr.Markdown(HEADER)
        with gr.Tabs(overflow_behavior="wrap"):  # on a phone, tab titles wrap onto more rows, all in sight
            for tab in TABS:
                with gr.Tab(tab.title, id=tab.id):
                    build_tab(tab)
    if loading.hub_seconds():
        log.info("start-up spent %.2f s on the Hub", loading.hub_seconds())
    demo.queue(max_size=QUEUE_SIZE)
    metrics.watch(demo)
    if quick is not None:
        weakref.finalize(demo, quick.stop)  # an app built again (tests) ends the old one's worker with it
    return demo
