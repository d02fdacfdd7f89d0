"""UI pieces shared by every tab: the tab record, error translation, model-card panel, event settings."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from gen_app.limits import InvalidInput

# Every event that runs a model shares this queue, so five tabs never run five models at once.
MODEL_EVENT = {"concurrency_id": "model", "concurrency_limit": 1}


@dataclass(frozen=True)
class Tab:
    id: str
    title: str
    build: Callable[[], None]  # creates the tab's components and events inside the current gr.Tab


def user_errors(fn: Callable) -> Callable:
    """Show InvalidInput as a gr.Error (a clear message in the UI and through the API), not a stack trace."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def streaming(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except InvalidInput as error:
                raise gr.Error(str(error)) from None

        return streaming

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InvalidInput as error:
            raise gr.Error(str(error)) from None

    return wrapper


def model_card_summary(card: Path, sections: tuple[str, ...] = ("Summary", "Metrics")) -> str:
    """The named `## ` sections of a model card (front matter and the rest dropped), as Markdown."""
    text = re.sub(r"\A---\n.*?\n---\n", "", card.read_text(), flags=re.S)
    parts = re.split(r"(?m)^(?=## )", text)
    chosen = [p.strip() for p in parts if any(p.startswith(f"## {name}") for name in sections)]
    return "\n\n".join(chosen) or "No model card found."


def about_panel(card: Path | list[Path], origin: str | list[str]) -> None:
    """A collapsed "About this model" accordion with the model card's (or cards') summary and metrics, and where
    the weights came from."""
    cards = card if isinstance(card, list) else [card]
    origins = origin if isinstance(origin, list) else [origin]
    with gr.Accordion("About this model" if len(cards) == 1 else "About these models", open=False):
        summaries = "\n\n".join(model_card_summary(c) for c in cards)
        sources = " and ".join(f"`{o}`" for o in origins)
        gr.Markdown(f"{summaries}\n\n*Weights loaded from {sources}.*")


class ImageUpload(gr.Image):
    """A gr.Image input that hands the uploaded file to the pipeline untouched (a path; build it with
    type="filepath", image_mode=None).

    Plain gr.Image opens the upload with PIL before the event function runs, so a damaged or non-image file
    fails inside Gradio with an internal error. Here the pipeline opens it and explains what is wrong, and
    the file keeps its mode, bit depth and EXIF orientation for the pipeline to honour.
    """

    def get_block_name(self) -> str:
        return "image"  # rendered by the frontend as a normal image component

    def preprocess(self, payload):
        if payload is not None and payload.path is not None and not str(payload.url or "").startswith("data:"):
            return str(payload.path)
        return super().preprocess(payload)

    def get_config(self):
        # The same component name as gr.Image, so the page treats it as one.
        return {**super().get_config(), "name": "image"}
