"""UI pieces shared by every tab: the tab record, error translation, model-card panel, event settings, and the
Blocks class that answers every request with a result or a clear message."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pydantic
from gradio.caching import CacheMissError
from gradio.exceptions import ComponentProcessingError, InvalidPathError
from gradio_client.exceptions import AppError

from gen_app.limits import InvalidInput
from gen_app.uploads import REFUSED

# Every event that runs a model shares this queue, so five tabs never run five models at once.
MODEL_EVENT = {"concurrency_id": "model", "concurrency_limit": 1}

# The answer to a request that failed in a way no check foresaw (the details go to the log, not to the caller).
UNHANDLED = "The app could not handle that request. Check its values and try again."


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


class AppBlocks(gr.Blocks):
    """gr.Blocks whose every event, called from the page or by anyone over HTTP (named, private or by fn_index, with
    any values), ends with a result or a gr.Error message, never Gradio's bare "Error" or a traceback's text.

    Before Gradio handles a request's values: too few values are refused, file inputs screen their values
    (gen_app.uploads: only uploaded files; one message for every other path), and an example index must name an
    example. Any other failure becomes one general message (the traceback still goes to the server's log).
    """

    async def preprocess_data(self, block_fn, inputs, state, explicit_call=False):
        needed = len(block_fn.inputs)
        if not isinstance(inputs, list) or len(inputs) < needed:
            got = len(inputs) if isinstance(inputs, list) else 0
            raise gr.Error(f"This request sent {got} of the {needed} input values it needs.")
        inputs = list(inputs)
        prop_inputs = getattr(block_fn, "component_prop_inputs", ())
        for i, block in enumerate(block_fn.inputs):
            screen = getattr(block, "screen_payload", None)
            if screen is not None and i not in prop_inputs:
                inputs[i] = screen(inputs[i])
            elif isinstance(block, gr.Dataset):  # the examples' event: the value is an example's index
                dataset = state[block._id] if state is not None and block._id in state else block
                index = inputs[i]
                if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(dataset.raw_samples):
                    raise gr.Error("There is no such example.")
        try:
            return await super().preprocess_data(block_fn, inputs, state, explicit_call)
        except InvalidPathError:  # a file Gradio itself would not take (the screen above refuses these first)
            raise gr.Error(REFUSED) from None
        except (ComponentProcessingError, pydantic.ValidationError) as error:  # a value of the wrong kind
            found = re.search(r"component at index (\d+)", str(error))
            if found is None or int(found.group(1)) >= needed:
                raise gr.Error("One of the request's values is not valid for its input.") from error
            index = int(found.group(1))
            block = block_fn.inputs[index]
            name = getattr(block, "label", None) or block.get_block_name()
            raise gr.Error(f'The value for input {index + 1} ("{name}") is not valid.') from error

    async def process_api(self, block_fn, inputs, *args, **kwargs):
        fn = self.fns[block_fn] if isinstance(block_fn, int) else block_fn
        if not fn.fn:
            raise gr.Error("This event runs in the page only: there is nothing to run on the server.")
        event_data = kwargs.get("event_data")
        if fn.collects_event_data and not isinstance(getattr(event_data, "_data", None), dict):
            raise gr.Error("This event needs the details of a click (or other action) in the page.")
        try:
            return await super().process_api(block_fn, inputs, *args, **kwargs)
        except (AppError, CacheMissError):  # gr.Error is an AppError: its message is meant for the user
            raise
        except Exception as error:
            raise gr.Error(UNHANDLED) from error
