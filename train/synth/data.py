"""Build the synthesiser's data: folk melodies played by six General-MIDI instruments, with pitch and loudness.

    apt-get install fluidsynth fluid-soundfont-gm && pip install music21==10.5.1 mido==1.3.3
    python -m train.synth.data                # data/audio/{train,val}.npz, about 2 minutes

Melodies: the tunes of O'Neill's "Music of Ireland" (1850) in the music21 corpus (``oneills1850``, ABC), top line
only, at a random tempo. Every 10th tune is held out (val.npz: the bench's phrases, never trained on).
Each phrase (PHRASE_SECONDS long, from the start of a tune and from its middle) is transposed by octaves into
each instrument's range, given a random dynamic and per-note velocity jitter, and written into one MIDI file per
instrument, phrases one second apart; FluidSynth renders each file once with the MIT-licensed FluidR3_GM
SoundFont (Debian ``fluid-soundfont-gm``), reverb and chorus off, at 16 kHz (gen_app/audio/fluidsynth.py), and the
audio is cut back into phrases.

Targets per 4 ms frame: f0 from the MIDI notes (held through rests, so the oscillator glides rather than
jumps), loudness measured on the rendered audio (gen_app/audio/features.py), and the instrument index.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from gen_app.audio.features import HOP, SAMPLE_RATE, loudness_db
from gen_app.audio.fluidsynth import SOUNDFONT, render
from gen_app.audio.instruments import INSTRUMENTS, Instrument
from gen_app.audio.score import Note, midi_bytes, pitch_curve, tune_notes
from train.common import ROOT

PHRASE_SECONDS = 4.0
GAP_SECONDS = 1.0
HELD_OUT_EVERY = 10


def load_tunes(limit: int) -> list[list[tuple[float, float, int]]]:
    import music21

    tunes = []
    for path in sorted((Path(music21.__file__).parent / "corpus" / "oneills1850").glob("*.abc")):
        opus = music21.converter.parse(path)
        for score in getattr(opus, "scores", [opus]):
            notes = tune_notes(score)
            if len(notes) >= 8:
                tunes.append(notes)
            if len(tunes) >= limit:
                return tunes
    return tunes


def phrases_of(notes, rng: np.random.Generator) -> list[list[tuple[float, float, int]]]:
    """Up to two PHRASE_SECONDS phrases (from the start and the middle), in seconds, at a random tempo."""
    seconds_per_quarter = rng.uniform(0.3, 0.6)
    timed = [(s * seconds_per_quarter, d * seconds_per_quarter, p) for s, d, p, _ in notes]
    end = timed[-1][0] + timed[-1][1]
    phrases = []
    for begin in (0.0, end / 2) if end > 2 * PHRASE_SECONDS else (0.0,):
        chosen = [
            (s - begin, min(d, begin + PHRASE_SECONDS - s), p)
            for s, d, p in timed
            if begin <= s < begin + PHRASE_SECONDS - 0.1
        ]
        if len(chosen) >= 4:
            phrases.append(chosen)
    return phrases


def fit_range(phrase, instrument: Instrument) -> list[tuple[float, float, int]]:
    """Transpose by whole octaves so the phrase's median sits nearest the middle of the instrument's range."""
    median = float(np.median([p for _, _, p in phrase]))
    shift = 12 * round(((instrument.low + instrument.high) / 2 - median) / 12)
    return [(s, d, min(max(p + shift, instrument.low), instrument.high)) for s, d, p in phrase]


def write_midi(path: Path, phrases, instrument: Instrument, rng: np.random.Generator) -> list[float]:
    """All phrases in one MIDI file (the app's MIDI writer), GAP_SECONDS apart; returns each phrase's start time in
    seconds. Each phrase gets a random dynamic, each note a velocity jitter and 85-100% of its written length."""
    notes, starts, clock = [], [], GAP_SECONDS
    for phrase in phrases:
        starts.append(clock)
        dynamic = rng.uniform(50, 115)
        for s, d, p in phrase:
            velocity = int(np.clip(dynamic + rng.normal(0, 8), 20, 127))
            notes.append(Note(clock + s, d * rng.uniform(0.85, 1.0), p, velocity))
        clock += PHRASE_SECONDS + GAP_SECONDS
    path.write_bytes(midi_bytes(notes, instrument.program))
    return starts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "data/audio")
    parser.add_argument("--tunes", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    tunes = load_tunes(args.tunes)
    split = {"train": [], "val": []}
    for i, notes in enumerate(tunes):
        split["val" if i % HELD_OUT_EVERY == 0 else "train"].extend(phrases_of(notes, rng))
    print(f"{len(tunes)} tunes -> {len(split['train'])} training / {len(split['val'])} held-out phrases")

    args.out.mkdir(parents=True, exist_ok=True)
    frames = int(PHRASE_SECONDS * SAMPLE_RATE / HOP)
    samples = frames * HOP
    for name, phrases in split.items():
        audio, f0, loudness, instrument_index = [], [], [], []
        for k, instrument in enumerate(INSTRUMENTS):
            fitted = [fit_range(p, instrument) for p in phrases]
            with tempfile.TemporaryDirectory() as tmp:
                starts = write_midi(Path(tmp) / "in.mid", fitted, instrument, rng)
                rendered = render(Path(tmp) / "in.mid", Path(tmp) / "out.wav")
            for phrase, start in zip(fitted, starts, strict=True):
                begin = int(start * SAMPLE_RATE)
                clip = np.zeros(samples, np.float32)
                piece = rendered[begin : begin + samples]
                clip[: len(piece)] = piece
                audio.append((clip * 32767).clip(-32768, 32767).astype(np.int16))
                f0.append(pitch_curve(phrase, frames))
                loudness.append(loudness_db(clip))
                instrument_index.append(k)
        np.savez(
            args.out / f"{name}.npz",
            audio=np.stack(audio),
            f0=np.stack(f0),
            loudness=np.stack(loudness),
            instrument=np.array(instrument_index, np.int64),
        )
        print(f"{name}: {len(audio)} clips of {PHRASE_SECONDS:g} s")
    meta = {
        "instruments": [i.__dict__ for i in INSTRUMENTS],
        "sample_rate": SAMPLE_RATE,
        "hop": HOP,
        "phrase_seconds": PHRASE_SECONDS,
        "tunes": len(tunes),
        "held_out_every": HELD_OUT_EVERY,
        "soundfont": str(SOUNDFONT),
        "corpus": "music21 oneills1850",
    }
    (args.out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
