"""Benchmark the audio tab end to end (gen_app/audio/pipeline.py): notes in, audio out, as the app plays them.

    apt-get install fluidsynth fluid-soundfont-gm && python -m bench.synth_app --threads 2 [--json FILE]

- Notes -> audio on held-out tunes (data/melody/val.txt, never trained on by either model; built by
  train/melody/data.py): each tune's first --seconds, played by each instrument at 120 bpm.
  * note accuracy: share of notes whose middle, measured with librosa.pyin, is within 25 cents of the written
    pitch (after the app's octave fitting), over the notes of at least 0.1 s (shorter ones are too short to measure;
    an unvoiced middle counts as a miss);
  * multi-scale spectral distance (gen_app/audio/synth.py) to FluidSynth's rendering of the same notes
    (gen_app/audio/fluidsynth.py: the General-MIDI preset the instrument learnt, MIDI written by the app), for the
    app and for the baseline: an additive sine synthesiser driven by the same pitch and loudness curves. All three
    are scaled to the same RMS first, so only the sound, not the level, is compared.
- Latency where it runs (median of --runs): compose a 16-bar tune; play it; play the Bach chorale example MIDI;
  re-voice the 9 s hummed example and a 30 s clip (the upload limit).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import soundfile
import torch

from bench.synth import sine_baseline
from gen_app.audio.features import HOP, SAMPLE_RATE, track_pitch
from gen_app.audio.fluidsynth import render_notes
from gen_app.audio.pipeline import AudioPipeline, Voice
from gen_app.audio.score import LEAD_IN_SECONDS, Note, read_abc
from gen_app.audio.synth import spectral_distance
from gen_app.loading import ROOT

EXAMPLES = ROOT / "gen_app/audio/examples"
MIN_NOTE_SECONDS = 0.1


def fluidsynth(notes: list[Note], program: int, samples: int) -> np.ndarray:
    """The SoundFont's rendering of the notes (starting LEAD_IN_SECONDS late, like the app), `samples` long."""
    shifted = [Note(n.start + LEAD_IN_SECONDS, n.length, n.pitch, n.velocity) for n in notes]
    return render_notes(shifted, program, samples)


def same_rms(audio: np.ndarray) -> torch.Tensor:
    return torch.from_numpy((audio / max(np.sqrt(np.mean(audio**2)), 1e-9) * 0.1).astype(np.float32))[None]


def note_accuracy(audio: np.ndarray, notes: list[Note]) -> list[bool]:
    """In tune or not, for each note long enough to measure (>= MIN_NOTE_SECONDS: pyin's 64 ms window needs it)."""
    f0, probability = track_pitch(audio)
    hits = []
    for note in notes:
        if note.length < MIN_NOTE_SECONDS:
            continue
        middle = int((note.start + LEAD_IN_SECONDS + 0.45 * note.length) * SAMPLE_RATE / HOP)
        window = slice(max(middle - 5, 0), middle + 6)
        voiced = probability[window] > 0.5
        if not voiced.any():
            hits.append(False)
            continue
        cents = 1200 * np.log2(np.median(f0[window][voiced]) / (440 * 2 ** ((note.pitch - 69) / 12)))
        hits.append(abs(cents) <= 25)
    return hits


def timed(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tunes", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    pipe = AudioPipeline.load(torch.device("cpu"))

    tunes = (ROOT / "data/melody/val.txt").read_text().strip().split("\n\n")
    rows = {}
    for instrument in pipe.instruments:
        hits, ours, sine = [], [], []
        for tune in tunes[: args.tunes]:
            melody = read_abc(tune, 120)
            melody.notes = [n for n in melody.notes if n.end <= args.seconds]
            if len(melody.notes) < 4:
                continue
            played = pipe.play_notes(melody, Voice(instrument.name))
            reference = same_rms(fluidsynth(played.notes, instrument.program, len(played.audio)))
            baseline = sine_baseline(played.f0_hz, played.loudness_db, played.audio)
            ours.append(spectral_distance(same_rms(played.audio), reference).item())
            sine.append(spectral_distance(same_rms(baseline), reference).item())
            hits += note_accuracy(played.audio, played.notes)
        rows[instrument.name] = {
            "notes": len(hits),
            "note_accuracy": round(float(np.mean(hits)), 4),
            "ours_spectral_distance": round(statistics.mean(ours), 3),
            "sine_spectral_distance": round(statistics.mean(sine), 3),
        }
        print(instrument.name, rows[instrument.name], flush=True)
    report = {"per_instrument": rows, "tunes": args.tunes, "seconds_per_tune": args.seconds}
    for key in ("note_accuracy", "ours_spectral_distance", "sine_spectral_distance"):
        report[key] = round(statistics.mean(r[key] for r in rows.values()), 4)

    tune = pipe.compose(seed=0, bars=16)
    hummed = next(EXAMPLES.glob("hummed_*.wav"))
    with tempfile.TemporaryDirectory() as tmp:
        long_clip = Path(tmp) / "long.wav"
        audio, _ = soundfile.read(hummed, dtype="float32")
        soundfile.write(long_clip, np.tile(audio, 4)[: 30 * SAMPLE_RATE - 1], SAMPLE_RATE)
        latency = {
            "compose_16_bars": timed(lambda: pipe.compose(seed=1, bars=16), args.runs),
            "play_16_bar_tune": timed(lambda: pipe.play_abc(tune, 120, Voice("violin")), args.runs),
            "play_bach_chorale_midi": timed(
                lambda: pipe.play_midi(next(EXAMPLES.glob("bach_*.mid")), Voice("cello")), args.runs
            ),
            "revoice_9s_clip": timed(lambda: pipe.transfer(hummed, Voice("flute")), args.runs),
            "revoice_30s_clip": timed(lambda: pipe.transfer(long_clip, Voice("flute")), args.runs),
        }
    report["latency_seconds"] = {k: round(v, 2) for k, v in latency.items()}
    report["threads"] = args.threads
    print(
        f"notes played in tune: {report['note_accuracy']:.1%}; spectral distance to FluidSynth: app "
        f"{report['ours_spectral_distance']} vs sine baseline {report['sine_spectral_distance']}"
    )
    print("latency (s):", report["latency_seconds"])
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
