"""Training smoke tests for super-resolution and text: the real scripts, a few steps on tiny data sets,
single process, resumed, and with torchrun (2 processes, gloo); the pipelines load what they write."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from gen_app.gpt import GPT
from gen_app.sampling import SamplingSettings
from gen_app.sr.model import SRNet
from gen_app.sr.pipeline import SRPipeline
from gen_app.text.pipeline import TextPipeline
from gen_app.text.tokenizer import load_tokenizer

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.train
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
SR_DATA, SR_TRAIN = ["-m", "train.sr.data"], ["-m", "train.sr.train"]


def run(cmd: list[str]) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout


@pytest.fixture(scope="module")
def sr_data(tmp_path_factory) -> Path:
    photos = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(2):  # textured "photos" big enough for the builder (>= 1000 px)
        noise = Image.fromarray(rng.integers(0, 256, (1000, 1200, 3), dtype=np.uint8))
        noise.filter(ImageFilter.GaussianBlur(2)).save(photos / f"photo{i}.jpg", quality=95)
    out = tmp_path_factory.mktemp("sr_data")
    run([sys.executable, *SR_DATA, "--photos", str(photos), "--out", str(out), "--crops", "300"])
    assert np.load(out / "hr.npy").shape[1:] == (128, 128, 3) and np.load(out / "lr4.npy").shape[1:] == (32, 32, 3)
    return out


SR_TINY = ["--channels", "8", "--num-convs", "2"]


def sr_x2_args(sr_data: Path, tmp_path: Path) -> list[str]:
    args = [*SR_TRAIN, "--scale", "2", *SR_TINY, "--batch", "4", "--eval-every", "2", "--data", str(sr_data)]
    return [*args, "--run-dir", str(tmp_path / "run")]


def test_sr_training_runs_in_two_processes_under_torchrun(sr_data, tmp_path):
    out = tmp_path / "sr-x2"
    run([*TORCHRUN, *sr_x2_args(sr_data, tmp_path), "--steps", "3", "--out", str(out)])
    assert json.loads((out / "training.json").read_text())["processes"] == 2
    pipe = SRPipeline({2: SRNet.from_pretrained(out, strict=True).eval()})
    assert pipe.upscale(Image.new("RGB", (10, 8)), 2).image.size == (20, 16)


def test_sr_training_writes_a_loadable_checkpoint(sr_data, tmp_path):
    out = tmp_path / "sr-x2"
    args = sr_x2_args(sr_data, tmp_path)
    run([sys.executable, *args, "--steps", "3", "--out", str(out)])
    record = json.loads((out / "training.json").read_text())
    assert record["processes"] == 1 and record["history"]
    assert record["command"].startswith("python -m train.sr.train --scale 2")
    pipe = SRPipeline({2: SRNet.from_pretrained(out, strict=True).eval()})
    assert pipe.upscale(Image.new("RGB", (10, 8)), 2).image.size == (20, 16)
    # Resume, and start another scale from this one's body.
    assert "resumed from" in run([sys.executable, *args, "--steps", "4", "--out", str(out)])
    x4 = tmp_path / "sr-x4"
    more = ["--scale", "4", "--init-from", str(out), "--run-dir", str(tmp_path / "run4"), "--out", str(x4)]
    more += ["--precision", "bf16", "--steps", "3"]
    assert "initialised" in run([sys.executable, *SR_TRAIN, *SR_TINY, *more, "--data", str(sr_data)])
    x4_record = json.loads((x4 / "training.json").read_text())
    assert x4_record["precision"] == "bf16" and x4_record["crop_size"] == 128
    assert x4_record["data_command"].startswith("python -m train.sr.data ")
    assert x4_record["data_command"].endswith("--crops 300") and x4_record["previous_stage"]["processes"]
    # A fine-tune written over its own starting checkpoint, exported twice (the second run resumes at its last
    # step): the record still names the stage it started from, not itself.
    again = [*SR_TINY, "--steps", "3", "--scale", "4", "--init-from", str(x4), "--out", str(x4), "--data", str(sr_data)]
    again += ["--run-dir", str(tmp_path / "run4-again"), "--steps", "2"]
    for _ in range(2):
        run([sys.executable, *SR_TRAIN, *again])
    stage = json.loads((x4 / "training.json").read_text())["previous_stage"]
    assert stage["steps"] == 3 and stage["previous_stage"]["scale"] == 2


def test_sr_training_on_realistic_degradations(sr_data, tmp_path):
    """--degradation realistic: LR inputs made on the fly (gen_app/sr/degradations.py), resumable, loadable."""
    out = tmp_path / "sr-x4-real"
    args = [*SR_TRAIN, "--scale", "4", "--channels", "8", "--num-convs", "2", "--batch", "4", "--eval-every", "2"]
    args += ["--degradation", "realistic", "--data", str(sr_data), "--run-dir", str(tmp_path / "run")]
    args += ["--out", str(out)]
    run([sys.executable, *args, "--steps", "3"])
    assert "resumed from" in run([sys.executable, *args, "--steps", "4"])
    record = json.loads((out / "training.json").read_text())
    assert record["degradation"] == "realistic" and [h["step"] for h in record["history"]] == [2, 3, 4]
    # Held-out inputs are degraded, so bicubic restores them worse than the clean bicubic shrink would.
    assert all(0 < h["bicubic_psnr"] < 60 for h in record["history"])
    pipe = SRPipeline({4: SRNet.from_pretrained(out, strict=True).eval()})
    assert pipe.upscale(Image.new("RGB", (10, 8)), 4).image.size == (40, 32)


def test_sr_realistic_training_told_the_jpeg_quality(sr_data, tmp_path):
    """--jpeg-input: from an unconditioned checkpoint (all its tensors copied, the quality biases start at zero);
    the export keeps it, and a stage from that export has it without the flag."""
    first, second = tmp_path / "first", tmp_path / "second"
    SRNet(scale=4, channels=8, num_convs=2).save_pretrained(tmp_path / "plain")
    args = [*SR_TRAIN, "--scale", "4", "--channels", "8", "--num-convs", "2", "--batch", "4", "--eval-every", "2"]
    args += ["--degradation", "realistic", "--data", str(sr_data), "--steps", "2"]
    out = run(
        [sys.executable, *args, "--init-from", str(tmp_path / "plain"), "--jpeg-input"]
        + ["--run-dir", str(tmp_path / "run1"), "--out", str(first)]
    )
    assert "initialised 11/13 tensors" in out
    assert json.loads((first / "training.json").read_text())["jpeg_input"] is True
    model = SRNet.from_pretrained(first, strict=True)
    assert model.jpeg_input and model.jpeg_bias.weight.abs().sum() > 0  # it learned from the qualities
    run([sys.executable, *args, "--init-from", str(first), "--run-dir", str(tmp_path / "run2"), "--out", str(second)])
    assert SRNet.from_pretrained(second, strict=True).jpeg_input


def test_sr_perceptual_finetune_resumes_and_exports(sr_data, tmp_path):
    """train.sr.finetune: L1 + EfficientNet-Lite0 perceptual + U-Net discriminator (spectral norm), a few steps on
    realistic inputs; every evaluation exports a loadable generator; a second call resumes."""
    init = tmp_path / "l1"
    SRNet(scale=4, channels=8, num_convs=2).save_pretrained(init)
    out = tmp_path / "perceptual"
    args = [sys.executable, "-m", "train.sr.finetune", "--init-from", str(init), "--channels", "8", "--num-convs", "2"]
    args += ["--patch", "8", "--batch", "2", "--eval-every", "1", "--disc-features", "8", "--data", str(sr_data)]
    args += ["--run-dir", str(tmp_path / "run"), "--out", str(out)]
    assert "initialised 11/11 tensors" in run([*args, "--steps", "2"])
    assert "resumed from" in run([*args, "--steps", "3"])
    record = json.loads((out / "training.json").read_text())
    assert [h["step"] for h in record["history"]] == [1, 2, 3] and record["steps_done"] == 3
    assert all(h["perceptual"] > 0 and h["disc"] > 0 for h in record["history"]) and "GAN" in record["loss"]
    pipe = SRPipeline({4: SRNet.from_pretrained(out, strict=True).eval()})
    assert pipe.upscale(Image.new("RGB", (10, 8)), 4).image.size == (40, 32)


def test_deepening_starts_from_the_same_function():
    """--init-from a shallower checkpoint of the same width inserts identity layers: the deeper network computes
    exactly what the checkpoint did, and its new layers still train (they get gradients)."""
    from train.sr.train import deepen_into, hidden_layers

    torch.manual_seed(0)
    shallow = SRNet(scale=4, channels=16, num_convs=3)
    with torch.no_grad():
        shallow.body[-2].weight.normal_(0, 0.1)  # not the zero start: a trained network's output
    deep = SRNet(scale=4, channels=16, num_convs=7)
    deepen_into(deep, shallow, rank=0)
    x = torch.rand(2, 3, 12, 10)
    assert torch.allclose(deep(x), shallow(x), atol=1e-6)
    deep(x).square().mean().backward()
    assert all(conv.weight.grad.abs().sum() > 0 for conv, _ in hidden_layers(deep))
    with pytest.raises(ValueError, match="same width"):
        deepen_into(SRNet(scale=4, channels=8, num_convs=7), shallow, rank=0)


def test_unet_discriminator_scores_every_pixel():
    from train.gan import UNetDiscriminator

    disc = UNetDiscriminator(8)
    assert disc(torch.rand(2, 3, 32, 48)).shape == (2, 1, 32, 48)
    assert sum(hasattr(m, "weight_orig") for m in disc.modules()) == 8  # spectral norm on all but the first and last


def test_realistic_batches_depend_only_on_seed_rank_and_step():
    """What makes a resumed realistic run see the data of an uninterrupted one."""
    from train.sr.train import parse_args, realistic_batch

    hr = np.random.default_rng(0).integers(0, 256, (6, 64, 64, 3), dtype=np.uint8)
    args = parse_args(["--batch", "3", "--patch", "8", "--scale", "4", "--degradation", "realistic"])
    low, high, qualities = realistic_batch(hr, args, rank=0, step=5)
    assert low.shape == (3, 3, 8, 8) and high.shape == (3, 3, 32, 32) and len(qualities) == 3
    again = realistic_batch(hr, args, rank=0, step=5)
    assert torch.equal(low, again[0]) and torch.equal(high, again[1]) and qualities == again[2]
    assert not torch.equal(low, realistic_batch(hr, args, rank=0, step=6)[0])
    assert not torch.equal(low, realistic_batch(hr, args, rank=1, step=5)[0])


def test_sr_data_with_larger_crops(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (1000, 1000), "gray").save(photos / "flat.jpg")
    out = tmp_path / "sr256"
    run(
        [
            sys.executable,
            *SR_DATA,
            "--photos",
            str(photos),
            "--out",
            str(out),
            "--crops",
            "6",
            "--crop-size",
            "256",
            "--gcompris-share",
            "0",
        ]
    )
    assert np.load(out / "hr.npy").shape[1:] == (256, 256, 3) and np.load(out / "lr4.npy").shape[1:] == (64, 64, 3)


@pytest.fixture(scope="module")
def text_data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("text_data")
    speech = "FIRST WITCH:\nWhen shall we three meet again\nIn thunder, lightning, or in rain?\n\n"
    (out / "train.txt").write_text(speech * 300)
    (out / "val.txt").write_text(speech.replace("FIRST", "SECOND") * 40)
    return out


def test_text_training_bpe_resume_and_torchrun(text_data, tmp_path):
    out = tmp_path / "text"
    args = ["-m", "train.text.train", "--tokenizer", "bpe", "--vocab-size", "300", "--n-layer", "1", "--n-head", "2"]
    args += ["--n-embd", "32", "--block-size", "32", "--batch", "4", "--eval-every", "2", "--eval-chars", "2000"]
    args += ["--data", str(text_data), "--run-dir", str(tmp_path / "run"), "--out", str(out)]
    run([sys.executable, *args, "--steps", "3"])
    assert "resumed from" in run([sys.executable, *args, "--steps", "4"])
    record = json.loads((out / "training.json").read_text())
    assert record["tokenizer"] == "bpe" and record["steps"] == 4 and record["history"][-1]["val"] > 0
    model = GPT.from_pretrained(out, strict=True).eval()
    pipe = TextPipeline(model, load_tokenizer(out / "tokenizer.json"), str(out))
    assert pipe.generate("WITCH:", SamplingSettings(max_new_tokens=5, seed=1))
    run([*TORCHRUN, *args[:-4], "--run-dir", str(tmp_path / "ddp"), "--out", str(tmp_path / "ddp-out"), "--steps", "2"])
    assert json.loads((tmp_path / "ddp-out" / "training.json").read_text())["processes"] == 2
