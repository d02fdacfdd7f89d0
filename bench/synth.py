"""Benchmark the neural instrument synthesiser on held-out phrases (tunes never trained on, data/audio/val.npz).

    python -m train.synth.data && python -m bench.synth --threads 2 [--json checkpoints/synth/metrics.json]

For each of --per-instrument phrases per instrument, driven by the phrase's f0 and loudness curves:
- pitch error: median |cents| between librosa.pyin's f0 of the output and the target f0 (the MIDI notes), over
  frames that pyin calls voiced and where the target is louder than -45 dB; also for FluidSynth's own rendering
  (the SoundFont's samples are not exactly in tune) as a reference;
- multi-scale spectral distance to the FluidSynth rendering (the training loss, gen_app/audio/synth.py), for
  ours and for the baseline: a plain additive sine at f0 with the loudness curve as its envelope, given the
  target's RMS level (an oracle gain in its favour);
- speed: real-time factor (seconds of audio per second of compute) for 10 s of audio, median of --runs runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from gen_app.audio.features import HOP, SAMPLE_RATE, hz_to_midi, track_pitch
from gen_app.audio.synth import NeuralSynth, spectral_distance
from gen_app.loading import ROOT

LOUD_ENOUGH_DB = -45.0
VOICED = 0.5


def sine_baseline(f0: np.ndarray, loudness: np.ndarray, target: np.ndarray) -> np.ndarray:
    """A sine at f0 with envelope 10^(loudness / 20), scaled to the target's RMS."""
    f0_up = np.interp(np.arange(len(f0) * HOP) / HOP, np.arange(len(f0)), f0)
    envelope = np.interp(np.arange(len(f0) * HOP) / HOP, np.arange(len(f0)), 10 ** (loudness / 20))
    tone = np.sin(np.cumsum(2 * np.pi * f0_up / SAMPLE_RATE)) * envelope
    return (tone * np.sqrt(np.mean(target**2) / max(np.mean(tone**2), 1e-12))).astype(np.float32)


def cents_error(audio: np.ndarray, f0: np.ndarray, loudness: np.ndarray) -> np.ndarray:
    measured, voiced = track_pitch(audio)
    use = (voiced > VOICED) & (loudness > LOUD_ENOUGH_DB)
    return np.abs(100 * (hz_to_midi(measured[use]) - hz_to_midi(f0[use])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "checkpoints/synth")
    parser.add_argument("--data", type=Path, default=ROOT / "data/audio/val.npz")
    parser.add_argument("--per-instrument", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)

    synth = NeuralSynth.from_pretrained(args.checkpoint, strict=True).eval()
    data = np.load(args.data)
    rows = {}
    generator = torch.Generator().manual_seed(0)
    for k, name in enumerate(synth.instruments):
        chosen = np.flatnonzero(data["instrument"] == k)[: args.per_instrument]
        scores = {"ours_cents": [], "soundfont_cents": [], "ours_distance": [], "sine_distance": []}
        for i in chosen:
            f0, loudness = data["f0"][i], data["loudness"][i]
            target = data["audio"][i].astype(np.float32) / 32767
            weights = torch.eye(len(synth.instruments))[k : k + 1]
            with torch.no_grad():
                ours = synth(torch.from_numpy(f0)[None], torch.from_numpy(loudness)[None], weights, generator)[0]
            sine = torch.from_numpy(sine_baseline(f0, loudness, target))
            reference = torch.from_numpy(target)
            scores["ours_distance"].append(spectral_distance(ours[None], reference[None]).item())
            scores["sine_distance"].append(spectral_distance(sine[None], reference[None]).item())
            scores["ours_cents"].extend(cents_error(ours.numpy(), f0, loudness))
            scores["soundfont_cents"].extend(cents_error(target, f0, loudness))
        rows[name] = {
            "phrases": len(chosen),
            "ours_median_cents": round(float(np.median(scores["ours_cents"])), 2),
            "soundfont_median_cents": round(float(np.median(scores["soundfont_cents"])), 2),
            "ours_spectral_distance": round(statistics.mean(scores["ours_distance"]), 3),
            "sine_spectral_distance": round(statistics.mean(scores["sine_distance"]), 3),
        }
        print(name, rows[name], flush=True)

    report = {"per_instrument": rows, "threads": args.threads}
    for key in ("ours_median_cents", "soundfont_median_cents", "ours_spectral_distance", "sine_spectral_distance"):
        report[key] = round(statistics.mean(r[key] for r in rows.values()), 3)

    frames = 10 * SAMPLE_RATE // HOP
    f0, loud = torch.full((1, frames), 330.0), torch.full((1, frames), -25.0)
    times = []
    with torch.inference_mode():
        for _ in range(args.runs + 1):
            started = time.perf_counter()
            synth(f0, loud, torch.eye(len(synth.instruments))[:1])
            times.append(time.perf_counter() - started)
    report["real_time_factor"] = round(10 / statistics.median(times[1:]), 1)
    print(
        f"mean over instruments: pitch error {report['ours_median_cents']} cents (SoundFont itself "
        f"{report['soundfont_median_cents']}); spectral distance ours {report['ours_spectral_distance']} vs sine "
        f"baseline {report['sine_spectral_distance']}; {report['real_time_factor']}x real time ({args.threads} threads)"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
