"""FluidSynth, the synthesiser's teacher: renders notes with the FluidR3_GM SoundFont, as the training data was
rendered. Not used by the app; it lives here, below both, because training (train/synth/data.py,
train/synth/fit_envelopes.py) and the app bench (bench/synth_app.py) need the same rendering.

    apt-get install fluidsynth fluid-soundfont-gm

Reverb and chorus off, gain 0.5, at SAMPLE_RATE, mixed to mono. MIDI comes from the app's own writer
(score.midi_bytes), so a note means the same thing to the app and to its reference.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile

from gen_app.audio.features import SAMPLE_RATE
from gen_app.audio.score import Note, midi_bytes

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")


def render(midi_path: Path, wav_path: Path) -> np.ndarray:
    """FluidSynth's rendering of a MIDI file (written to `wav_path`), mono float32."""
    command = ["fluidsynth", "-ni", "-R", "0", "-C", "0", "-g", "0.5", "-r", str(SAMPLE_RATE), "-F", str(wav_path)]
    subprocess.run([*command, str(SOUNDFONT), str(midi_path)], check=True, capture_output=True)
    audio, rate = soundfile.read(wav_path, dtype="float32", always_2d=True)
    assert rate == SAMPLE_RATE, rate
    return audio.mean(1)


def render_notes(notes: list[Note], program: int, samples: int) -> np.ndarray:
    """FluidSynth playing `notes` (MIDI from the app's own writer) with a General-MIDI program, `samples` long."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "in.mid").write_bytes(midi_bytes(notes, program))
        audio = render(Path(tmp) / "in.mid", Path(tmp) / "out.wav")[:samples]
    return np.pad(audio, (0, samples - len(audio)))
