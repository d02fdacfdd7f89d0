"""UI pieces shared by every tab: the tab record, error translation, model-card panel, event settings, and the
Blocks class that answers every request with a result or a clear message."""

from __future__ import annotations

import functools
import inspect
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import gradio as gr
import pydantic
from gradio.caching import CacheMissError
from gradio.exceptions import ComponentProcessingError, InvalidPathError
from gradio_client.exceptions import AppError

from gen_app.limits import InvalidInput, check_text, shown
from gen_app.uploads import REFUSED

# Each kind of work has its own queue (Gradio concurrency group), so that a quick request (faces, text) never waits
# behind a long one of another kind (a 16-megapixel upscale, a style optimisation). The long kinds' functions run at
# low CPU priority (gen_app.device.low_priority), and the quick models in a worker process of their own
# (gen_app.worker), so on a busy CPU the quick ones go first. Measured with bench/load.py (README: "Many users at
# once").
QUICK_QUEUES = ("faces", "text", "style")
LONG_QUEUES = ("style-any", "sr", "audio")
QUEUES = QUICK_QUEUES + LONG_QUEUES
# How many requests of a kind run at once (the others wait their turn); one where not listed. Text requests run
# together because the sampler advances them all in one batched forward pass per token (gen_app.sampling.Decoder);
# faces because a request's time is mostly spent handing over and saving, which overlap; two upscales so that a
# small one need not wait while a large one waits for memory (gen_app.device.large_memory_work).
CONCURRENT = {"text": 16, "faces": 2, "sr": 2}


def model_event(queue: str) -> dict[str, object]:
    """The event options that put a model's event in `queue` (one of QUEUES)."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}: one of {QUEUES}")
    return {"concurrency_id": queue, "concurrency_limit": CONCURRENT.get(queue, 1)}


# A streamed output is sent at most this often: every update costs the server a message to encode and send (and
# the browser one to draw), and ten a second read as smooth. The first and the last update are always sent.
STREAM_SECONDS = 0.1
T = TypeVar("T")


def throttled(updates: Iterable[T], seconds: float = STREAM_SECONDS) -> Iterator[T]:
    """The updates of a stream (each one replacing the last, e.g. a growing text), at most one per `seconds`: the
    newest at that moment. The first and the last are always passed on."""
    last_sent = -math.inf
    pending: list[T] = []
    for update in updates:
        if time.monotonic() - last_sent >= seconds:
            yield update
            last_sent = time.monotonic()
            pending.clear()
        else:
            pending[:] = [update]
    yield from pending


# The answer to a request that failed in a way no check foresaw (the details go to the log, not to the caller).
UNHANDLED = "The app could not handle that request. Check its values and try again."


@dataclass(frozen=True)
class Tab:
    id: str
    title: str
    build: Callable[[], None]  # creates the tab's components and events inside the current gr.Tab


# How a file reaches a tool: the upload screen (gen_app.uploads) takes only files the server received itself.
FILE_INPUT = "as a data: URL (base64) or a file uploaded to this app; URLs of other servers are refused"


def described(**limits: object) -> Callable[[Callable], Callable]:
    """Fill the {placeholders} of an event function's docstring with `limits` (defined once, in the pipelines) and
    {file} with FILE_INPUT. The docstring is what the API page and the MCP server's tool list show: what the tool
    does, and its Args and Returns (Gradio reads "name: description" lines under "Args:")."""

    def fill(fn: Callable) -> Callable:
        fn.__doc__ = inspect.getdoc(fn).format(file=FILE_INPUT, **limits)
        return fn

    return fill


def page_only(fn: Callable) -> Callable:
    """Keep a helper of the page (e.g. a random-seed button) out of the MCP server's tools; it stays in the API.
    Gradio makes a tool of every named endpoint except functions marked as MCP resources or prompts (its
    `_mcp_type` attribute, set by gr.resource and gr.prompt); this marks it the same way, as neither."""
    fn._mcp_type = "page"
    return fn


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


class NumberRadio(gr.Radio):
    """A gr.Radio whose choices are numbers (a scale, a size), described as numbers in the API info. Gradio 6.31 says
    every Radio's value is a string, so an MCP client (which checks arguments against that schema) refused
    `scale: 2` as not a string, and "2" as not one of the choices."""

    def api_info(self) -> dict:
        numbers = [value for _, value in self.choices]
        return {**super().api_info(), "type": "integer" if all(isinstance(v, int) for v in numbers) else "number"}

    def get_block_name(self) -> str:
        return "radio"  # rendered by the frontend as a normal radio

    def get_config(self):
        return {**super().get_config(), "name": "radio"}


NO_CARD = "No model card came with these weights."


def model_card_summary(card: Path, sections: tuple[str, ...] = ("Summary", "Metrics")) -> str:
    """The named `## ` sections of a model card (front matter and the rest dropped), as Markdown."""
    if not card.is_file():
        return NO_CARD
    text = re.sub(r"\A---\n.*?\n---\n", "", card.read_text(encoding="utf-8"), flags=re.S)
    parts = re.split(r"(?m)^(?=## )", text)
    chosen = [p.strip() for p in parts if any(p.startswith(f"## {name}") for name in sections)]
    return "\n\n".join(chosen) or "No model card found."


def about_panel(source: Path | list[Path], origin: str | list[str]) -> None:
    """A collapsed "About this model" accordion with the model card's (or cards') summary and metrics, and where
    the weights came from. `source`: the folder the weights were loaded from (its README.md is their card, e.g. the
    one downloaded from the Hub with them), or a card file."""
    sources = source if isinstance(source, list) else [source]
    cards = [Path(s) if Path(s).suffix == ".md" else Path(s) / "README.md" for s in sources]
    origins = origin if isinstance(origin, list) else [origin]
    with gr.Accordion("About this model" if len(cards) == 1 else "About these models", open=False):
        summaries = "\n\n".join(model_card_summary(c) for c in cards)
        sources_text = " and ".join(f"`{o}`" for o in origins)
        gr.Markdown(f"{summaries}\n\n*Weights loaded from {sources_text}.*")


def input_name(block, index: int) -> str:
    """How a message names an input: its label, else its position."""
    label = getattr(block, "label", None)
    return f'"{label}"' if isinstance(label, str) and label else f"input {index + 1}"


def same_choice(value, choice) -> bool:
    """`value` is `choice`: equal, and both text or both numbers (True is not 1, "2" is not 2; 2.0 is 2)."""
    if isinstance(value, bool) or isinstance(choice, bool):
        return value is choice
    if isinstance(value, str) or isinstance(choice, str):
        return isinstance(value, str) and isinstance(choice, str) and value == choice
    return isinstance(value, int | float) and isinstance(choice, int | float) and value == choice


def screen_value(block, value, index: int) -> None:
    """gr.Error, naming the input and what it takes, when a request's value cannot be a value of `block`: a number
    or slider given text, a list, NaN or a value out of its range; a single choice given a list or anything not
    among its choices; a checkbox given anything but true or false; a text box given anything but text (or text
    that is not valid Unicode). None, except for a slider, is left to the event (it means "empty", and the pipelines
    say what is missing).

    Gradio checks some of these itself, but fails inside its input handling without naming the input (a string or
    NaN for a number), or passes the value on (a list of choices to a single-choice dropdown, a lone surrogate in a
    text box), where it broke the event function with an internal error.
    """
    if value is None and not isinstance(block, gr.Slider):  # a slider always has a value: Gradio fails on None
        return
    name = input_name(block, index)
    if isinstance(block, gr.Number | gr.Slider):  # gr.Slider is not a gr.Number subclass; both hold one number
        low, high = (None if x is None else shown(x) for x in (block.minimum, block.maximum))
        kind = f"a number from {low} to {high}" if low is not None and high is not None else "a number"
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise gr.Error(f"{name} must be {kind}, got {shown(value)}.")
        if isinstance(value, float) and not math.isfinite(value):
            raise gr.Error(f"{name} must be a finite number, got {shown(value)}.")
        if block.minimum is not None and value < block.minimum:
            raise gr.Error(f"The value for {name}, {shown(value)}, is less than minimum value {low}.")
        if block.maximum is not None and value > block.maximum:
            raise gr.Error(f"The value for {name}, {shown(value)}, is greater than maximum value {high}.")
    elif isinstance(block, gr.Dropdown | gr.Radio):
        choices = [choice for _, choice in block.choices]
        listed = ", ".join(str(c) for c in choices[:12])
        if len(choices) > 12:
            listed += f" and {len(choices) - 12} more"
        multiple = bool(getattr(block, "multiselect", False))
        if multiple != isinstance(value, list) or isinstance(value, dict):
            takes = "a list of choices" if multiple else "one choice"
            raise gr.Error(f"{name} takes {takes} ({listed}), got {shown(value)}.")
        if getattr(block, "allow_custom_value", False):
            return
        for item in value if multiple else [value]:
            if not any(same_choice(item, choice) for choice in choices):
                raise gr.Error(f"The value for {name}, {shown(item)}, is not in the list of choices: {listed}.")
    elif isinstance(block, gr.Checkbox):
        if not isinstance(value, bool):
            raise gr.Error(f"{name} must be true or false, got {shown(value)}.")
    elif isinstance(block, gr.Textbox):
        try:
            check_text(name, value)
        except InvalidInput as error:
            raise gr.Error(str(error)) from None


POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def trailing_defaults(fn: Callable | None, got: int, needed: int) -> list:
    """The defaults of the inputs from position `got` on that have one in `fn`'s signature, as far as the first that
    has none: so a request that leaves out an input added later with a default (e.g. the upscaler's photo type) still
    works, as gradio_client's calls do (it fills them in from the API's description)."""
    if fn is None:
        return []
    parameters = list(inspect.signature(fn).parameters.values())[got:needed]
    defaults = []
    for parameter in parameters:
        if parameter.default is inspect.Parameter.empty or parameter.kind not in POSITIONAL:
            break
        defaults.append(parameter.default)
    return defaults


class AppBlocks(gr.Blocks):
    """gr.Blocks whose every event, called from the page or by anyone over HTTP (named, private or by fn_index, with
    any values), ends with a result or a gr.Error message, never Gradio's bare "Error" or a traceback's text.

    Before Gradio handles a request's values: inputs left out at the end take their function's defaults, if they
    have one (`trailing_defaults`), else too few values are refused (naming the first missing input), file
    inputs screen their values (gen_app.uploads: only uploaded files; one message for every other path), an
    example index must name an example, and the values of numbers, sliders, choices, checkboxes and text boxes
    must be of their kind (`screen_value`: a message that names the input and says what it takes). Any other
    failure becomes one general message (the traceback still goes to the server's log).
    """

    async def preprocess_data(self, block_fn, inputs, state, explicit_call=False):
        needed = len(block_fn.inputs)
        if isinstance(inputs, list) and len(inputs) < needed:
            inputs = [*inputs, *trailing_defaults(block_fn.fn, len(inputs), needed)]
        if not isinstance(inputs, list) or len(inputs) < needed:
            got = len(inputs) if isinstance(inputs, list) else 0
            missing = block_fn.inputs[got]
            name = f' (the first missing one is "{missing.label}")' if getattr(missing, "label", None) else ""
            raise gr.Error(f"This request sent {got} of the {needed} input values it needs{name}.")
        inputs = list(inputs)
        prop_inputs = getattr(block_fn, "component_prop_inputs", ())
        for i, block in enumerate(block_fn.inputs):
            screen = getattr(block, "screen_payload", None)
            if screen is not None and i not in prop_inputs:
                single = getattr(block, "file_count", "single") == "single"  # gr.Image and gr.Audio have no file_count
                if single and isinstance(inputs[i], list):
                    raise gr.Error(f"{input_name(block, i)} takes one file, got a list of {len(inputs[i])}.")
                inputs[i] = screen(inputs[i])
            elif isinstance(block, gr.Dataset):  # the examples' event: the value is an example's index
                dataset = state[block._id] if state is not None and block._id in state else block
                index = inputs[i]
                if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(dataset.raw_samples):
                    raise gr.Error("There is no such example.")
            elif i not in prop_inputs:
                current = state[block._id] if state is not None and block._id in state else block  # choices may change
                screen_value(current, inputs[i], i)
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
            if getattr(block, "screen_payload", None) is not None:  # an upload, or an image sent inline (data URL)
                message = f'The file sent for input {index + 1} ("{name}") could not be read: upload it again.'
                raise gr.Error(message) from error
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
