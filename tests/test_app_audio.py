"""The audio tab through gradio_client: compose (streaming), play ABC, play MIDI, re-voice a clip; downloads with
their settings; bad inputs explained while the tab (and the app) keeps working."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from gen_app.audio.features import SAMPLE_RATE
from gen_app.audio.tab import EXAMPLES

VOICE = ("violin", "(none)", 0.5, 0.3)
DRY_VIOLIN = ("violin", "(none)", 0.5, 0.0)
SCALE = "M:4/4\nL:1/4\nK:G\nG A B c | d e f g |]\n"


def wav_settings(path: str) -> dict:
    with soundfile.SoundFile(path) as file:
        return json.loads(file.copy_metadata()["comment"])


def check_result(audio, picture, summary, downloads, suffixes: set[str]) -> np.ndarray:
    sound, rate = soundfile.read(audio)
    assert rate == SAMPLE_RATE and sound.ndim == 1 and 0.3 < np.abs(sound).max() <= 0.91
    with Image.open(picture) as image:
        assert image.width > image.height > 100
    assert " s of audio" in summary
    assert {Path(d).suffix for d in downloads} == suffixes
    return sound


def test_compose_streams_the_tune_then_plays_it(client):
    job = client.submit(7, 0.8, 8, "6/8", "D", 140, "flute", "trumpet", 0.3, 0.5, api_name="/compose")
    outputs = list(job)
    texts = [o[0] for o in outputs]
    assert len(outputs) >= 3 and all(o[1] is None for o in outputs[:-1])  # the tune grows, then the audio
    abc, audio, picture, summary, downloads = outputs[-1]
    assert abc == texts[-1] and abc.startswith("M:6/8") and "\nK:D\n" in abc
    check_result(audio, picture, summary, downloads, {".wav", ".mid", ".abc"})
    settings = wav_settings(audio)
    assert settings["seed"] == 7 and settings["key"] == "D" and settings["morph_to"] == "trumpet"
    assert settings["room"] == 0.5
    assert "Flute → Trumpet" in summary
    abc_file = next(d for d in downloads if d.endswith(".abc"))
    document = Path(abc_file).read_text()
    assert document.startswith("X:1\nT:gen_app tune, seed 7\nM:6/8") and "\nQ:1/4=140\nK:D\n" in document


def test_play_edited_abc(client):
    audio, picture, summary, downloads = client.predict(SCALE, 100, *DRY_VIOLIN, api_name="/play_abc")
    sound = check_result(audio, picture, summary, downloads, {".wav", ".mid", ".abc"})
    assert len(sound) / SAMPLE_RATE == pytest.approx(8 * 0.6 + 0.7, abs=0.1)  # 8 quarter notes at 100 bpm


def test_play_midi_example(client):
    example = next(EXAMPLES.glob("bach_*.mid"))
    audio, picture, summary, downloads = client.predict(
        handle_file(str(example)), "cello", "(none)", 0, 0.6, api_name="/play_midi"
    )
    check_result(audio, picture, summary, downloads, {".wav", ".mid"})
    assert wav_settings(audio)["source"] == example.name


def test_revoice_example_clip(client):
    example = next(EXAMPLES.glob("whistled_*.wav"))
    audio, picture, summary, downloads = client.predict(
        handle_file(str(example)), "auto", *DRY_VIOLIN, api_name="/revoice"
    )
    sound = check_result(audio, picture, summary, downloads, {".wav"})
    assert abs(len(sound) - soundfile.info(str(example)).frames) < 64


@pytest.mark.parametrize(
    "endpoint, args, message",
    [
        ("/play_abc", ("K:C\n(((", 120, *VOICE), "could not be read|no notes"),
        ("/play_abc", ("", 120, *VOICE), "empty"),
        ("/play_midi", (None, *VOICE), "Upload a MIDI file"),
        ("/revoice", (None, "auto", *VOICE), "Record or upload"),
        ("/compose", (1, 0.8, 16, "(any)", "H#", 120, *VOICE), "not in the list of choices|Key"),
    ],
)
def test_bad_inputs_are_explained_and_the_app_keeps_working(client, endpoint, args, message):
    with pytest.raises(AppError, match=message):
        client.predict(*args, api_name=endpoint)
    assert client.predict(SCALE, 120, *VOICE, api_name="/play_abc")[0]
    assert client.predict("JULIET:\n", 5, 0.8, 0, 1.0, 1.0, 1, api_name="/generate_text")[0]


@pytest.mark.parametrize("kind, message", [("noise", "No clear melody"), ("text", "not audio"), ("long", "limit")])
def test_bad_clips_are_explained(client, tmp_path, kind, message):
    path = tmp_path / "clip.wav"
    if kind == "text":
        path.write_text("hello")
    else:
        seconds = 2 if kind == "noise" else 31
        soundfile.write(path, 0.2 * np.random.default_rng(0).normal(size=seconds * SAMPLE_RATE), SAMPLE_RATE)
    with pytest.raises(AppError, match=message):
        client.predict(handle_file(str(path)), "auto", *VOICE, api_name="/revoice")


def test_broken_midi_is_explained(client, tmp_path):
    path = tmp_path / "song.mid"
    path.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    with pytest.raises(AppError, match="not a readable MIDI file"):
        client.predict(handle_file(str(path)), *VOICE, api_name="/play_midi")
