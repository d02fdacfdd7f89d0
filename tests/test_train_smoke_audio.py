"""Training smoke test for the synthesiser: the real script for a few steps on synthetic phrases (tones with
known pitch and loudness), single process, resumed, and with torchrun (2 processes, gloo)."""

import json
import sys

import numpy as np
import pytest
import soundfile
import torch
from test_train_smoke_sr_text import TORCHRUN, run

from gen_app.audio.features import HOP, SAMPLE_RATE, loudness_db
from gen_app.audio.synth import NeuralSynth

pytestmark = pytest.mark.train


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audio")
    rng = np.random.default_rng(0)
    frames = 250  # 1 s phrases
    for name, count in (("train", 6), ("val", 2)):
        f0 = rng.uniform(150, 600, (count, 1)).repeat(frames, 1).astype(np.float32)
        t = np.arange(frames * HOP) / SAMPLE_RATE
        audio = 0.3 * np.sin(2 * np.pi * f0[:, :1] * t) * np.linspace(0.2, 1, frames * HOP)
        np.savez(
            folder / f"{name}.npz",
            audio=(audio * 32767).astype(np.int16),
            f0=f0,
            loudness=np.stack([loudness_db(a.astype(np.float32)) for a in audio]),
            instrument=np.arange(count) % 2,
        )
    instruments = [{"name": "a"}, {"name": "b"}]
    (folder / "meta.json").write_text(json.dumps({"instruments": instruments, "sample_rate": SAMPLE_RATE, "hop": HOP}))
    return folder


@pytest.mark.parametrize("launcher", ["python", "torchrun"])
def test_synth_training_writes_a_loadable_checkpoint(tones, tmp_path, launcher):
    out = tmp_path / "synth"
    args = ["-m", "train.synth.train", "--data", str(tones), "--hidden", "16", "--harmonics", "8", "--seconds", "0.5"]
    args += ["--batch", "2", "--eval-every", "2", "--run-dir", str(tmp_path / "run")]
    run([*(TORCHRUN if launcher == "torchrun" else [sys.executable]), *args, "--steps", "3", "--out", str(out)])
    record = json.loads((out / "training.json").read_text())
    assert record["processes"] == (2 if launcher == "torchrun" else 1) and record["history"]
    synth = NeuralSynth.from_pretrained(out, strict=True)
    with torch.no_grad():
        audio = synth(torch.full((1, 50), 220.0), torch.full((1, 50), -20.0), torch.eye(2)[:1])
    assert audio.shape == (1, 50 * HOP)
    # Each instrument's typical level, measured on its training phrases, is kept for the app to play notes at.
    assert len(synth.typical_loudness_db) == 2 and all(-60 < level < 30 for level in synth.typical_loudness_db)
    if launcher == "python":
        assert "resumed from" in run([sys.executable, *args, "--steps", "4", "--out", str(out)])


def test_melody_training_reuses_the_text_model(tmp_path):
    data = tmp_path / "melody"
    data.mkdir()
    tune = "M:6/8\nL:1/8\nK:G\nGAB c2d | e2d c2B | A3 G3 ||\n\n"
    (data / "train.txt").write_text(tune * 200)
    (data / "val.txt").write_text(tune.replace("K:G", "K:D") * 20)
    out = tmp_path / "out"
    args = ["-m", "train.melody.train", "--data", str(data), "--steps", "2", "--eval-every", "1", "--batch", "2"]
    args += ["--n-layer", "1", "--n-embd", "32", "--n-head", "2", "--block-size", "32", "--eval-chars", "500"]
    run([sys.executable, *args, "--run-dir", str(tmp_path / "run"), "--out", str(out)])
    record = json.loads((out / "training.json").read_text())
    assert record["command"].startswith("python -m train.melody.train --data") and record["tokenizer"] == "char"


def test_audio_examples_builder(tmp_path):
    """train/synth/examples.py writes the tab's examples: MIDI files the app reads and clips it re-voices."""
    from gen_app.audio.score import read_midi

    run([sys.executable, "-m", "train.synth.examples", "--out", str(tmp_path)])
    midi_files, clips = sorted(tmp_path.glob("*.mid")), sorted(tmp_path.glob("*.wav"))
    assert len(midi_files) == 2 and len(clips) == 2
    assert all(len(read_midi(path).notes) > 20 for path in midi_files)
    assert all(soundfile.info(str(path)).samplerate == SAMPLE_RATE for path in clips)
