"""Build the audio tab's example inputs (gen_app/audio/examples/): two MIDI files and two melody clips.

    pip install music21==10.5.1 mido==1.3.3 && python -m train.synth.examples     # a few seconds

- `bach_chorale_bwv66.6.mid`: J. S. Bach's chorale BWV 66.6 in four parts, from the music21 corpus (public domain),
  written by music21's MIDI writer: the app plays its top line (the soprano).
- `oneill_<title>.mid`: the first held-out tune of the synthesiser's data (O'Neill's Music of Ireland, 1850, music21
  corpus; never trained on), melody only.
- `hummed_<title>.wav`, `whistled_<title>.wav`: the opening of that tune as a synthetic hum (a glottal pulse train
  through vowel formants, with vibrato, pitch jitter, scoops into notes and breath noise) and a synthetic whistle
  (a sine with vibrato and breath noise). Not recordings: nothing of the kind can be downloaded here; they stand in
  until someone records their own (the tab's microphone button does exactly that).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import soundfile
from scipy import signal

from gen_app.audio.features import SAMPLE_RATE, midi_to_hz
from gen_app.audio.score import Note, midi_bytes, tune_notes
from train.common import ROOT

OUT = ROOT / "gen_app/audio/examples"
CLIP_SECONDS = 9.0
SECONDS_PER_QUARTER = 0.45


def first_held_out_tune():
    """The first tune of oneills1850 with at least 8 notes: index 0, held out by train/synth/data.py (every 10th)."""
    import music21

    for path in sorted((Path(music21.__file__).parent / "corpus" / "oneills1850").glob("*.abc")):
        opus = music21.converter.parse(path)
        for score in getattr(opus, "scores", [opus]):
            if len(tune_notes(score)) >= 8:
                return score
    raise RuntimeError("no tune found")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40]


def sung_pitch(notes: list[Note], samples: int, rng: np.random.Generator, scoop: float) -> np.ndarray:
    """Per-sample MIDI pitch of a voice singing the notes: a short scoop up into each note, 5.5 Hz vibrato growing
    through long notes, slow random drift (a voice is never exactly on pitch)."""
    t = np.arange(samples) / SAMPLE_RATE
    pitch = np.full(samples, float(notes[0].pitch))
    for note in notes:
        a, b = int(note.start * SAMPLE_RATE), min(int(note.end * SAMPLE_RATE), samples)
        local = t[a:b] - note.start
        pitch[a:b] = note.pitch - scoop * np.exp(-local / 0.04)
    vibrato = 0.25 * np.sin(2 * np.pi * 5.5 * t) * np.clip((t % 1.0) / 0.5, 0, 1)
    drift = np.cumsum(rng.normal(0, 1, samples)) / np.sqrt(SAMPLE_RATE) * 0.05
    return pitch + vibrato + drift - drift.mean()


def gate(notes: list[Note], samples: int) -> np.ndarray:
    """Amplitude 0..1 per sample: 30 ms fades at each note's ends (the singer breathes between notes)."""
    envelope = np.zeros(samples)
    fade = int(0.03 * SAMPLE_RATE)
    for note in notes:
        a, b = int(note.start * SAMPLE_RATE), min(int((note.start + 0.92 * note.length) * SAMPLE_RATE), samples)
        n = b - a
        shape = np.ones(n)
        ramp = min(fade, n // 2)
        shape[:ramp] = np.linspace(0, 1, ramp)
        shape[n - ramp :] = np.linspace(1, 0, ramp)
        envelope[a:b] = np.maximum(envelope[a:b], shape)
    return envelope


def hum(notes: list[Note], samples: int, rng: np.random.Generator) -> np.ndarray:
    """A hummed "mm-oo": glottal pulses (a band-limited sawtooth, tilted) through three formant resonators."""
    hz = midi_to_hz(sung_pitch(notes, samples, rng, scoop=0.6))
    phase = np.cumsum(hz / SAMPLE_RATE)
    source = sum(np.sin(2 * np.pi * k * phase) / k**1.5 * (k * hz < SAMPLE_RATE / 2) for k in range(1, 40))
    voice = np.zeros(samples)
    for formant, bandwidth, gain in ((300, 60, 1.0), (870, 90, 0.4), (2250, 120, 0.15)):  # "oo"
        b, a = signal.iirpeak(formant, formant / bandwidth, fs=SAMPLE_RATE)
        voice += gain * signal.lfilter(b, a, source)
    breath = signal.lfilter(*signal.butter(2, [300, 3000], "band", fs=SAMPLE_RATE), rng.normal(0, 1, samples))
    envelope = gate(notes, samples)
    return voice * envelope + 0.01 * breath * (0.3 + envelope)


def whistle(notes: list[Note], samples: int, rng: np.random.Generator) -> np.ndarray:
    hz = midi_to_hz(sung_pitch(notes, samples, rng, scoop=0.3))
    tone = np.sin(2 * np.pi * np.cumsum(hz / SAMPLE_RATE))
    breath = signal.lfilter(*signal.butter(2, [1000, 5000], "band", fs=SAMPLE_RATE), rng.normal(0, 1, samples))
    envelope = gate(notes, samples)
    return tone * envelope + 0.03 * breath * envelope


def normalised(audio: np.ndarray) -> np.ndarray:
    return (0.5 * audio / np.abs(audio).max()).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    import music21

    chorale = music21.corpus.parse("bach/bwv66.6")
    chorale.insert(0, music21.tempo.MetronomeMark(number=80))
    chorale.write("midi", fp=args.out / "bach_chorale_bwv66.6.mid")

    tune = first_held_out_tune()
    title = slug(tune.metadata.title if tune.metadata and tune.metadata.title else "tune")
    notes = [Note(s * SECONDS_PER_QUARTER, d * SECONDS_PER_QUARTER, p) for s, d, p, _ in tune_notes(tune)]
    (args.out / f"oneill_{title}.mid").write_bytes(midi_bytes(notes, program=73, tempo=60 / SECONDS_PER_QUARTER))

    opening = [n for n in notes if n.end <= CLIP_SECONDS - 0.5]
    samples = int(CLIP_SECONDS * SAMPLE_RATE)
    low = [
        Note(n.start + 0.3, n.length, n.pitch - 12 * round((np.median([m.pitch for m in opening]) - 52) / 12))
        for n in opening
    ]  # a baritone's range, around E3
    high = [
        Note(n.start + 0.3, n.length, n.pitch + 12 * round((83 - np.median([m.pitch for m in opening])) / 12))
        for n in opening
    ]  # a whistler's range, around B5
    soundfile.write(args.out / f"hummed_{title}.wav", normalised(hum(low, samples, rng)), SAMPLE_RATE)
    soundfile.write(args.out / f"whistled_{title}.wav", normalised(whistle(high, samples, rng)), SAMPLE_RATE)
    for path in sorted(args.out.iterdir()):
        print(f"{path.name}: {path.stat().st_size / 1000:.0f} kB")


if __name__ == "__main__":
    main()
