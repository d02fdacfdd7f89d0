"""Each tab offers exactly what its pipeline accepts: every slider's bounds (and the choices of the controls that
pick from a pipeline's list) are the pipeline's constants, read from the built tab's config."""

import json

import gradio as gr
import pytest

from gen_app import sampling
from gen_app.app import TABS
from gen_app.audio import pipeline as audio
from gen_app.audio.tab import ANY, OCTAVES
from gen_app.faces import pipeline as faces
from gen_app.faces.attributes import ATTRIBUTE_FIELDS
from gen_app.limits import InvalidInput
from gen_app.loading import CHECKPOINTS
from gen_app.sr import pipeline as sr
from gen_app.style import pipeline as style

# Per tab, each slider's label and the (lowest, highest) its pipeline accepts.
SLIDERS = {
    "faces": {
        "Number of faces": (1, faces.MAX_FACES),
        "Temperature": faces.TEMPERATURE_RANGE,
        "Faces": (2, faces.MAX_FACES),
        "How much to vary": faces.VARIATION_RANGE,
        "Frames": (2, faces.MAX_MORPH_FRAMES),
    },
    "text": {
        "Max new tokens": sampling.NEW_TOKENS_RANGE,
        "Temperature": sampling.TEMPERATURE_RANGE,
        "Top-k": sampling.TOP_K_RANGE,
        "Top-p": sampling.TOP_P_RANGE,
        "Repetition penalty": sampling.REPETITION_PENALTY_RANGE,
    },
    "style": {
        "Strength (0 = the photo, 1 = full style)": style.STRENGTH_RANGE,
        "Share of the second style": style.BLEND_RANGE,
        "Iterations (more: closer to the style)": style.ANY_STYLE_STEPS_RANGE,
    },
    "sr": {},
    "check": {},
    "audio": {
        "Morph": audio.MORPH_RANGE,
        "Room": audio.ROOM_RANGE,
        "Bars (at most)": audio.BARS_RANGE,
        "Temperature": audio.TEMPERATURE_RANGE,
        "Tempo (quarter notes per minute)": audio.TEMPO_RANGE,
    },
}
# The face fields the shipped renderer does not draw: their attributes have no control at all.
UNDRAWN = json.loads((CHECKPOINTS / "faces/config.json").read_text()).get("undrawn") or {}
# Per tab, the choices of the radios and dropdowns whose values a pipeline checks against its own list.
CHOICES = {
    "faces": {
        name.capitalize(): [] if ATTRIBUTE_FIELDS[name] in UNDRAWN else [[faces.RANDOM, *classes]]
        for name, classes in faces.ATTRIBUTES.items()
    },
    "text": {},
    "style": {"Output size (longest side, px)": [list(style.OUTPUT_SIDES), list(style.ANY_STYLE_SIDES)]},
    "sr": {"Upscale factor": [list(sr.SCALES)], "Photo type": [list(sr.PHOTO_TYPES)]},
    "check": {},
    "audio": {"Metre": [[ANY, *audio.METRES]], "Key": [[ANY, *audio.KEYS]], "Octave shift": [OCTAVES]},
}


def test_every_tab_is_checked():
    assert {tab.id for tab in TABS} == set(SLIDERS) == set(CHOICES)


@pytest.fixture(scope="module", params=list(SLIDERS))
def built(request) -> tuple[str, list[dict]]:
    """(tab id, the props of its components), the tab built on its own."""
    tab = next(t for t in TABS if t.id == request.param)
    with gr.Blocks() as demo:
        tab.build()
    return tab.id, [{"type": c["type"], **c.get("props", {})} for c in demo.config["components"]]


def test_slider_bounds_are_the_pipeline_constants(built):
    tab, components = built
    sliders = [c for c in components if c["type"] == "slider"]
    assert sorted(c["label"] for c in sliders) == sorted(SLIDERS[tab])  # no slider without a constant, none missing
    for slider in sliders:
        assert (slider["minimum"], slider["maximum"]) == SLIDERS[tab][slider["label"]], slider["label"]


def test_choices_are_the_pipeline_lists(built):
    tab, components = built
    for label, expected in CHOICES[tab].items():
        found = [[value for _, value in c["choices"]] for c in components if c.get("label") == label]
        assert found == expected, label


def test_octave_choices_are_every_shift_the_pipeline_accepts():
    low, high = audio.OCTAVE_SHIFT_RANGE
    assert OCTAVES == ["auto", *(str(shift) for shift in range(low, high + 1))]


@pytest.mark.parametrize(
    "field, bounds",
    [
        ("max_new_tokens", sampling.NEW_TOKENS_RANGE),
        ("temperature", sampling.TEMPERATURE_RANGE),
        ("top_k", sampling.TOP_K_RANGE),
        ("top_p", sampling.TOP_P_RANGE),
        ("repetition_penalty", sampling.REPETITION_PENALTY_RANGE),
    ],
)
def test_sampling_settings_accept_their_range_and_nothing_past_it(field, bounds):
    low, high = bounds
    for inside in (low, high):
        assert getattr(sampling.SamplingSettings(**{field: inside}).validated(), field) == inside
    step = 1 if isinstance(low, int) else 0.01
    for outside in (low - step, high + step):
        with pytest.raises(InvalidInput):
            sampling.SamplingSettings(**{field: outside}).validated()
