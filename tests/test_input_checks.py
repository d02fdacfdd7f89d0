"""The input checks behind issue 17's "bad input that still escapes" items, without the app: the shared limits, the
ABC/MIDI length limit, the tokenizers, and AppBlocks' screen of a request's values (gen_app.ui.screen_value)."""

import math
from pathlib import Path

import gradio as gr
import pytest

from gen_app.audio.score import MAX_SECONDS, Note, finish, midi_bytes, read_abc, read_midi
from gen_app.limits import InvalidInput, check_float, check_int, check_text, shown
from gen_app.text.tokenizer import CharTokenizer, load_tokenizer
from gen_app.ui import same_choice, screen_value

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("value", [10**400, -(10**400), "1e400", math.inf, math.nan, "x", [1], None, {}])
def test_check_int_refuses_with_a_message(value):
    with pytest.raises(InvalidInput, match="^Seed must be"):
        check_int("Seed", value, 0, 2**32 - 1)


def test_check_int_keeps_exact_integers():
    assert check_int("Seed", 2**32 - 1, 0, 2**32 - 1) == 2**32 - 1
    assert check_int("Seed", "17", 0, 100) == 17 and check_int("Seed", 3.0, 0, 100) == 3
    with pytest.raises(InvalidInput, match="got a 401-digit number"):
        check_int("Seed", 10**400, 0, 10)


@pytest.mark.parametrize("value", [10**400, "1e400", math.inf, math.nan, "x", [0.5], None])
def test_check_float_refuses_with_a_message(value):
    with pytest.raises(InvalidInput, match="^Temperature must be"):
        check_float("Temperature", value, 0.0, 2.0)


def test_shown_keeps_messages_short():
    assert shown(10**400) == "a 401-digit number" and shown(-(10**30)) == "a 31-digit negative number"
    assert len(shown("x" * 100_000)) <= 60 and shown(42) == "42"


def test_check_text():
    assert check_text("Prompt", "ROMEO: ✓") == "ROMEO: ✓"
    with pytest.raises(InvalidInput, match=r"Prompt holds a character .* \(U\+DC80, .* at character 1\)"):
        check_text("Prompt", "\udc80abc")
    with pytest.raises(InvalidInput, match="Prompt must be text"):
        check_text("Prompt", 5)


def test_tokenizers_refuse_lone_surrogates():
    bpe = load_tokenizer(ROOT / "checkpoints" / "text" / "tokenizer.json")
    for tokenizer in (bpe, CharTokenizer("abc")):
        with pytest.raises(InvalidInput, match="not valid Unicode"):
            tokenizer.encode("\udc80abc")
        assert tokenizer.encode("abc")


def test_a_note_longer_than_the_limit_is_refused():
    """Issue 17: a first note longer than 180 s left nothing to play, and finish() failed with an IndexError."""
    with pytest.raises(InvalidInput, match=f"ABC tune's first note lasts 2,500 s; the limit is {MAX_SECONDS:.0f} s"):
        read_abc("M:4/4\nL:1/8\nK:C\nC9999|", tempo=120)
    with pytest.raises(InvalidInput, match="MIDI file's first note lasts"):
        finish([Note(0.0, 200.0, 60), Note(200.0, 1.0, 62)], [], "MIDI file")
    melody = finish([Note(0.0, 1.0, 60), Note(1.0, 500.0, 62)], [], "MIDI file")  # a later long note is cut
    assert [n.pitch for n in melody.notes] == [60] and "is long" in melody.notices[0]


def test_a_midi_note_longer_than_the_limit_is_refused(tmp_path):
    path = tmp_path / "long.mid"
    path.write_bytes(midi_bytes([Note(0.0, 1_000.0, 60)], program=0))
    with pytest.raises(InvalidInput, match="MIDI file's first note lasts"):
        read_midi(path)


def test_abc_with_a_lone_surrogate_is_refused():
    with pytest.raises(InvalidInput, match="ABC text holds a character"):
        read_abc("M:4/4\nL:1/8\nT:\udc80\nK:C\nCDEF|", tempo=120)


# --- AppBlocks' screen of request values -------------------------------------------------------------------------


def refused(block, value) -> str:
    with pytest.raises(gr.Error) as raised:
        screen_value(block, value, 0)
    return raised.value.message


def test_numbers_and_sliders():
    seed = gr.Number(label="Seed", precision=0, minimum=0, maximum=2**32 - 1)
    count = gr.Slider(1, 16, label="Count")
    for value in (3, 2.0, 2**32 - 1):
        screen_value(seed, value, 0)
    screen_value(seed, None, 0)  # empty: the pipeline says what is missing
    assert refused(seed, "abc") == "\"Seed\" must be a number from 0 to 4294967295, got 'abc'."
    assert refused(seed, [1]).endswith("got [1].") and refused(seed, True).endswith("got True.")
    assert refused(seed, math.nan) == '"Seed" must be a finite number, got nan.'
    too_big = refused(seed, 10**400)
    assert too_big == 'The value for "Seed", a 401-digit number, is greater than maximum value 4294967295.'
    assert refused(seed, -1) == 'The value for "Seed", -1, is less than minimum value 0.'
    assert refused(count, None) == '"Count" must be a number from 1 to 16, got None.'  # Gradio fails on it
    assert "less than minimum" in refused(count, 0.5)
    screen_value(gr.Number(label="Seed", precision=0), 10**400, 0)  # no bounds: left to the pipeline's check_int


def test_choices():
    octave = gr.Dropdown(["auto", "-1", "0", "1"], label="Octave shift")
    scale = gr.Radio([("×2", 2), ("×4", 4)], label="Upscale factor")
    screen_value(octave, "1", 0)
    screen_value(scale, 4, 0)
    screen_value(scale, 4.0, 0)
    assert refused(octave, ["1"]) == "\"Octave shift\" takes one choice (auto, -1, 0, 1), got ['1']."
    assert refused(octave, {"1": 1}).startswith('"Octave shift" takes one choice')
    assert refused(octave, 1) == 'The value for "Octave shift", 1, is not in the list of choices: auto, -1, 0, 1.'
    assert "not in the list of choices" in refused(scale, True) and "not in the list of choices" in refused(scale, "2")
    many = gr.Dropdown([str(i) for i in range(40)], label="Hair", multiselect=True)
    screen_value(many, ["1", "2"], 0)
    not_a_list = refused(many, "1")
    assert not_a_list.startswith('"Hair" takes a list of choices (0, 1, 2') and "and 28 more" in not_a_list
    assert not same_choice(True, 1) and not same_choice("2", 2) and same_choice(2.0, 2)


def test_checkboxes_and_text():
    assert refused(gr.Checkbox(label="Keep colours"), "yes") == "\"Keep colours\" must be true or false, got 'yes'."
    screen_value(gr.Checkbox(label="Keep colours"), False, 0)
    prompt = gr.Textbox(label="Prompt")
    screen_value(prompt, "ROMEO:", 0)
    assert refused(prompt, 5) == '"Prompt" must be text, got 5.'
    assert "not valid Unicode" in refused(prompt, "\udc80abc")
    assert refused(gr.Textbox(), [1]) == "input 1 must be text, got [1]."
