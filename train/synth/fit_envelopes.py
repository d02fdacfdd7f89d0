"""Fit each instrument's note envelope (gen_app/audio/score.py: Envelope) to the SoundFont the synthesiser learnt.

    apt-get install fluidsynth fluid-soundfont-gm
    python -m train.melody.data && python -m train.synth.fit_envelopes      # writes checkpoints/synth/config.json

The app turns notes into a loudness curve (attack, decay while held, articulation, release, level), and the
synthesiser turns that curve into sound; it was trained on loudness measured on FluidSynth renderings. So the
envelope that makes the app sound like the instrument it learnt is the one whose curve best matches the loudness of
FluidSynth playing the same notes. For --tunes training tunes (data/melody/train.txt; the held-out tunes are left
for bench/synth_app.py), each at a random tempo, each instrument: FluidSynth renders the notes (the app's own MIDI
writer, the instrument's General-MIDI program, reverb and chorus off), and a grid search picks the envelope with the
least mean |dB| difference over frames where either curve is above -70 dB; the level is the median difference
(closed form for each shape). The result goes into the synthesiser's config.json as `note_envelopes`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np

from gen_app.audio.features import HOP, loudness_db
from gen_app.audio.fluidsynth import render_notes
from gen_app.audio.instruments import BY_NAME
from gen_app.audio.score import Envelope, Note, fit_range, frame_count, loudness_curve, read_abc
from gen_app.limits import InvalidInput
from train.common import ROOT, command_line

FLOOR_DB = -70.0
GRID = {
    "attack_seconds": (0.01, 0.025, 0.05, 0.08, 0.12),
    "decay_db_per_second": (0.0, 2.0, 6.0),
    "articulation": (0.85, 0.9, 0.95, 1.0),
    "release_db_per_second": (50.0, 100.0, 200.0, 350.0, 600.0, 1000.0),
}


def render_loudness(notes: list[Note], program: int, frames: int) -> np.ndarray:
    """FluidSynth's loudness curve (dB per frame) for the notes, `frames` long."""
    return loudness_db(render_notes(notes, program, frames * HOP + HOP))[:frames]


def load_tunes(path: Path, count: int, rng: np.random.Generator) -> list[list[Note]]:
    tunes = []
    for text in path.read_text().strip().split("\n\n"):
        try:
            notes = read_abc(text, tempo=rng.uniform(100, 170)).notes
        except InvalidInput:
            continue
        notes = [n for n in notes if n.end <= 12.0]  # the first 12 s is plenty to see the shapes
        if len(notes) >= 8:
            tunes.append(notes)
        if len(tunes) == count:
            break
    return tunes


def error_of(pieces, shape: dict) -> tuple[float, float]:
    """(mean |dB| difference, level) for an envelope shape; the level is the median difference where notes sound."""
    ours = [loudness_curve(notes, frames, Envelope(level_db=0.0, **shape)) for notes, frames, _ in pieces]
    sounding = np.concatenate([o > -40 for o in ours])
    difference = np.concatenate([target for *_, target in pieces]) - np.concatenate(ours)
    level = float(np.median(difference[sounding]))
    errors = []
    for curve, (_, _, target) in zip(ours, pieces, strict=True):
        a, b = np.maximum(curve + level, FLOOR_DB), np.maximum(target, FLOOR_DB)
        errors.append(np.abs(a - b)[(a > FLOOR_DB) | (b > FLOOR_DB)])
    return float(np.mean(np.concatenate(errors))), level


def fit(tunes: list[list[Note]], instrument_name: str) -> tuple[dict, float, float]:
    """(best envelope fields, its error, the error of the default shape) for one instrument."""
    instrument = BY_NAME[instrument_name]
    pieces = []
    for notes in tunes:
        fitted, _ = fit_range(notes, instrument.low, instrument.high)
        frames = frame_count(fitted[-1].end + 0.5)
        pieces.append((fitted, frames, render_loudness(fitted, instrument.program, frames)))
    default_shape = {k: v for k, v in asdict(Envelope()).items() if k != "level_db"}
    default_error, _ = error_of(pieces, default_shape)
    best, best_error = None, float("inf")
    for values in itertools.product(*GRID.values()):
        shape = dict(zip(GRID, values, strict=True))
        error, level = error_of(pieces, shape)
        if error < best_error:
            best, best_error = {"level_db": round(level, 2), **shape}, error
    return best, best_error, default_error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "checkpoints/synth")
    parser.add_argument("--tunes-file", type=Path, default=ROOT / "data/melody/train.txt")
    parser.add_argument("--tunes", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    tunes = load_tunes(args.tunes_file, args.tunes, np.random.default_rng(args.seed))
    config_path = args.checkpoint / "config.json"
    config = json.loads(config_path.read_text())
    envelopes, report = {}, {}
    for name in config["instruments"]:
        envelopes[name], error, default_error = fit(tunes, name)
        print(f"{name}: {envelopes[name]}: mean |dB| error {error:.2f} (default shape {default_error:.2f})", flush=True)
        report[name] = {"fitted": round(error, 3), "default_shape": round(default_error, 3)}
    config["note_envelopes"] = envelopes
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    fit_record = {"tunes": len(tunes), "grid": GRID, "mean_abs_db_error": report, "command": command_line()}
    (args.checkpoint / "envelopes.json").write_text(json.dumps(fit_record, indent=2) + "\n")
    print(f"wrote {config_path} and envelopes.json in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
