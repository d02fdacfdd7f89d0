"""The files the audio tab offers for download after a performance: a 16-bit WAV with the settings in its comment
and the invisible watermark in its sound (gen_app/provenance/audio.py), a MIDI file of the notes as played, and the
tune as an ABC document. Plain functions, usable without Gradio."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import soundfile

from gen_app.audio.features import SAMPLE_RATE
from gen_app.audio.pipeline import Played, Voice
from gen_app.audio.score import abc_document, midi_bytes
from gen_app.outputs import new_output_path
from gen_app.provenance.audio import embed_audio
from gen_app.provenance.credentials import with_credentials
from gen_app.provenance.keys import marking_enabled


def voice_settings(voice: Voice) -> dict:
    """What the downloads record about the voice that played."""
    return {
        "model": "gen_app synth",
        "instrument": voice.instrument,
        "morph_to": voice.morph_to,
        "morph": voice.morph,
        "room": voice.room,
    }


def write_wav(audio: np.ndarray, path: Path, params: dict) -> Path:
    """16-bit WAV with `params` as JSON in its comment (RIFF INFO), readable with soundfile or any tag editor, and
    the watermark in the sound and signed content credentials (C2PA)."""
    if marking_enabled():
        audio = embed_audio(audio, SAMPLE_RATE)
    buffer = io.BytesIO()
    with soundfile.SoundFile(buffer, "w", SAMPLE_RATE, 1, "PCM_16", format="WAV") as file:
        file.title = "gen_app audio"
        file.software = "gen_app"
        file.comment = json.dumps(params)
        file.write(audio)
    data = buffer.getvalue()
    if marking_enabled():
        data = with_credentials(data, "audio/wav", path.name, params)
    path.write_bytes(data)
    return path


def compose_settings(
    voice: Voice, seed: int, temperature: float, bars: int, metre: str | None, key: str | None, tempo: float
) -> dict:
    """What the downloads of a composed tune record: the voice, and the composer's settings."""
    composed = {"seed": seed, "temperature": temperature, "bars": bars, "metre": metre, "key": key, "tempo": tempo}
    return voice_settings(voice) | composed


def write_performance(
    played: Played, wav: Path, params: dict, program: int, abc: str | None = None, title: str = ""
) -> list[Path]:
    """The WAV at `wav` (first, with `params`) and beside it, with the same name: a MIDI file when notes were played
    (General MIDI `program`) and an ABC document of `abc` when given (titled `title`, at `params["tempo"]`)."""
    files = [write_wav(played.audio, Path(wav), params)]
    if played.notes:
        midi = Path(wav).with_suffix(".mid")
        midi.write_bytes(midi_bytes(played.notes, program))
        files.append(midi)
    if abc:
        document = Path(wav).with_suffix(".abc")
        document.write_text(abc_document(abc, title or "Untitled", params["tempo"]), encoding="utf-8")
        files.append(document)
    return files


def write_downloads(
    played: Played, stem: str, params: dict, program: int, abc: str | None = None, title: str = ""
) -> list[Path]:
    """`write_performance` into new files named after `stem`, in the app's output folder."""
    return write_performance(played, new_output_path(stem, ".wav"), params, program, abc, title)
