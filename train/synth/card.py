"""Write checkpoints/synth/README.md (the model card) and its audio samples from the figures next to the weights.

    python -m bench.synth --threads 2 --json checkpoints/synth/metrics.json
    python -m bench.synth_app --threads 2 --json checkpoints/synth/app_metrics.json
    python -m train.synth.card

Reads training.json (train/synth/train.py), metrics.json (bench/synth.py), app_metrics.json (bench/synth_app.py)
and envelopes.json (train/synth/fit_envelopes.py); renders, for one held-out phrase per instrument, the
synthesiser's audio and FluidSynth's (the target) into samples/ as 16-bit WAV. Without the held-out phrases
(data/audio/val.npz, from train/synth/data.py: it needs FluidSynth) the samples already in samples/ are kept.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import soundfile
import torch

from gen_app.audio.features import SAMPLE_RATE
from gen_app.audio.synth import NeuralSynth
from train.common import ROOT, card_front_matter, current_command, save_card

SAMPLE_INSTRUMENTS = ("violin", "cello", "trumpet", "flute")


def write_samples(folder: Path, data_path: Path) -> None:
    """samples/<instrument>_{ours,fluidsynth}.wav: one held-out phrase per SAMPLE_INSTRUMENTS."""
    synth = NeuralSynth.from_pretrained(folder, strict=True).eval()
    data = np.load(data_path)
    (folder / "samples").mkdir(exist_ok=True)
    for name in SAMPLE_INSTRUMENTS:
        k = synth.instruments.index(name)
        i = int(np.flatnonzero(data["instrument"] == k)[0])
        weights = torch.eye(len(synth.instruments))[k : k + 1]
        with torch.no_grad():
            f0, loud = torch.from_numpy(data["f0"][i])[None], torch.from_numpy(data["loudness"][i])[None]
            ours = synth(f0, loud, weights, torch.Generator().manual_seed(0))[0].numpy()
        target = data["audio"][i].astype(np.float32) / 32767
        for kind, audio in (("ours", ours), ("fluidsynth", target)):
            soundfile.write(folder / sample_file(name, kind), np.clip(audio, -1, 1), SAMPLE_RATE, "PCM_16")


def sample_file(instrument: str, kind: str) -> str:
    """A sample's path in the checkpoint folder; kind: ours or fluidsynth."""
    return f"samples/{instrument}_{kind}.wav"


def app_section(folder: Path) -> str:
    """The end-to-end figures of bench/synth_app.py (notes in, audio out, as the app plays them), when measured."""
    path = folder / "app_metrics.json"
    if not path.exists():
        return ""
    m = json.loads(path.read_text())
    per = "\n".join(
        f"| {name} | {r['notes']} | {r['note_accuracy']:.1%} | **{r['ours_spectral_distance']}** | "
        f"{r['sine_spectral_distance']} |"
        for name, r in m["per_instrument"].items()
    )
    latency = ", ".join(f"{k.replace('_', ' ')} {v} s" for k, v in m["latency_seconds"].items())
    fit_path = folder / "envelopes.json"
    fit = json.loads(fit_path.read_text()) if fit_path.exists() else None
    envelopes = json.loads((folder / "config.json").read_text()).get("note_envelopes") or {}
    errors = {
        n: f"{e['fitted']} (default shape {e['default_shape']})"
        for n, e in (fit or {}).get("mean_abs_db_error", {}).items()
    }
    envelope_rows = "\n".join(
        f"| {name} | {e['level_db']} | {e['attack_seconds'] * 1000:.0f} | {e['decay_db_per_second']:g} | "
        f"{e['articulation']:g} | {e['release_db_per_second']:g} | {errors.get(name, '')} |"
        for name, e in envelopes.items()
    )
    return f"""
### In the app: notes in, audio out
`python -m bench.synth_app --threads 2`: the first {m["seconds_per_tune"]:g} s of {m["tunes"]} held-out tunes
(data/melody/val.txt) at 120 bpm, through the app's pipeline: notes → the pitch curve and a loudness curve shaped
like a player's (each instrument's note envelope, fitted below and stored in config.json as `note_envelopes`) → the
synthesiser. Note accuracy: share of notes (of at least 0.1 s: pyin needs that long) whose
middle is within 25 cents of the written pitch (pyin). Spectral distance to FluidSynth's rendering of the same notes, all three at the same RMS.

| instrument | notes | in tune | spectral distance, **app** | sine synthesiser, same curves |
|---|---|---|---|---|
{per}
| **mean** | | {m["note_accuracy"]:.1%} | **{m["ours_spectral_distance"]}** | {m["sine_spectral_distance"]} |

Latency on this CPU ({m["threads"]} threads), median: {latency}. Re-voicing is dominated by pyin's pitch tracking.

Note envelopes (`python -m train.synth.fit_envelopes`, {fit["tunes"] if fit else "?"} training tunes): for each instrument, a grid
search for the envelope whose loudness curve best matches FluidSynth's playing the same notes (mean |dB| over frames
above −70 dB; the level is fitted in closed form). Every note is also released at least 30 ms before the next one
and falls ≥ 9 dB there, so repeated notes stay distinct.

| instrument | level (dB) | attack (ms) | decay while held (dB/s) | articulation | release (dB/s) | mean abs error (dB) |
|---|---|---|---|---|---|---|
{envelope_rows}
"""


def write_card(folder: Path) -> Path:
    """folder/README.md from the folder's config.json, training.json, metrics.json and, when measured,
    app_metrics.json and envelopes.json."""
    config = json.loads((folder / "config.json").read_text())
    record = json.loads((folder / "training.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text())
    synth = NeuralSynth.from_pretrained(folder, strict=True)
    params = sum(p.numel() for p in synth.parameters())
    size_mb = (folder / "model.safetensors").stat().st_size / 1e6
    per = "\n".join(
        f"| {name} | {r['ours_median_cents']} | {r['soundfont_median_cents']} | **{r['ours_spectral_distance']}** | "
        f"{r['sine_spectral_distance']} |"
        for name, r in metrics["per_instrument"].items()
    )
    history = " → ".join(f"{h['val']:.2f}" for h in record["history"][:: max(1, len(record["history"]) // 6)])
    data = record["data"]
    samples = "\n".join(
        f"| {name} | [ours]({sample_file(name, 'ours')}) | [FluidSynth]({sample_file(name, 'fluidsynth')}) |"
        for name in SAMPLE_INSTRUMENTS
    )
    card = f"""{card_front_matter(["audio", "ddsp", "gen_app"])}# gen_app synth: a neural instrument synthesiser (DDSP) for {len(config["instruments"])} instruments

## Summary
Plays a melody given as pitch (f0) and loudness curves with one of {len(config["instruments"])} instruments
({", ".join(config["instruments"])}), or a blend of them. A 3-layer MLP per input and a GRU ({config["hidden"]} wide),
conditioned on an instrument embedding, drive a bank of {config["harmonics"]} harmonic oscillators and a 65-band
filtered-noise source, written in torch (Engel et al. 2020, DDSP). **{params / 1e6:.2f} M parameters** ({size_mb:.1f} MB),
16 kHz, 250 control frames per second. The pitch is the f0 given, by construction; the network shapes the timbre.
Trained here on FluidSynth renderings of folk tunes; **{metrics["real_time_factor"]}× faster than real time** on
this CPU ({metrics["threads"]} threads). The app's audio tab plays composed tunes, ABC, MIDI files and hummed
melodies with it (gen_app/audio/pipeline.py).

## Metrics
`python -m bench.synth --threads 2`, on held-out phrases (tunes never trained on), {next(iter(metrics["per_instrument"].values()))["phrases"]} per instrument.
Pitch error: median |cents| between librosa.pyin's f0 and the target notes over voiced frames louder than −45 dB
(pyin's grid is 10 cents, anchored on C2). Spectral distance: the multi-scale spectral distance to FluidSynth's
rendering (lower is better); the baseline is a plain sine at f0 with the loudness curve as envelope, given the
target's RMS level.

| instrument | pitch error, ours (cents) | FluidSynth's own rendering (cents) | spectral distance, **ours** | sine baseline |
|---|---|---|---|---|
{per}
| **mean** | {metrics["ours_median_cents"]} | {metrics["soundfont_median_cents"]} | **{metrics["ours_spectral_distance"]}** | {metrics["sine_spectral_distance"]} |

Floors (issue 6): median pitch error ≤ 10 cents; spectral distance well below the baseline's; ≥ 50× real time.
{app_section(folder)}
## Samples (held-out phrases, 4 s)
| instrument | synthesiser | target |
|---|---|---|
{samples}

## Training data
`python -m train.synth.data`: the first {data.get("tunes", 400)} tunes of O'Neill's *Music of Ireland* (1850) in the
PyPI `music21` 10.5.1 corpus (BSD-3-Clause package; traditional tunes), every {data.get("held_out_every", 10)}th held
out; each tune gives up to two {data.get("phrase_seconds", 4)}-second phrases at a random tempo, transposed by octaves into
each instrument's range, with random dynamics; rendered by FluidSynth 2.3.1 (Debian `fluidsynth`, LGPL-2.1) with the
FluidR3_GM SoundFont (Debian `fluid-soundfont-gm` 3.1, MIT), reverb and chorus off, at 16 kHz. 4,320 training and
474 held-out phrases. Targets: f0 from the MIDI notes, A-weighted loudness measured on the audio.

## Training
Multi-scale spectral loss (FFT 2048 … 64, L1 on magnitudes and log magnitudes), Adam (lr {record["lr"]}, warm-up,
cosine), batch {record["batch_per_process"]} random {record["seconds"]}-second crops, gradient clipping 2.
{record["steps"]:,} steps on {record["device"]}, {record["training_hours"] * 60:.0f} minutes. Command:
`{current_command(record["command"])}` (the first 300 steps ran under `--steps 3600`,
then the run resumed with `--steps 3000`). Held-out spectral distance during training: {history}.

## Limitations
- Dry sound (the targets have no reverb: the app adds a synthetic room afterwards, the Room slider); no vibrato
  model beyond what the pitch and loudness curves carry.
- Notes become loudness curves by a fixed envelope (gen_app/audio/score.py), not a learnt performance model: all
  notes are played legato-ish at one articulation; accents follow the metre.
- Trained on one SoundFont's instruments: the timbres are FluidR3's, not recordings of players.
"""
    return save_card(folder, card)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "checkpoints/synth")
    parser.add_argument("--data", type=Path, default=ROOT / "data/audio/val.npz")
    args = parser.parse_args()
    if args.data.exists():
        write_samples(args.checkpoint, args.data)
    elif all((args.checkpoint / sample_file(name, "ours")).exists() for name in SAMPLE_INSTRUMENTS):
        print(f"no {args.data}: kept the samples in {args.checkpoint / 'samples'}")
    else:
        raise SystemExit(f"no {args.data} to render the samples from: python -m train.synth.data")
    print(f"wrote {write_card(args.checkpoint)}")


if __name__ == "__main__":
    main()
