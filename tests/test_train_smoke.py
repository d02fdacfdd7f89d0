"""Training smoke tests of the face models: the real scripts, a few steps on a handful of rendered faces, resume,
two processes, then the app's pipeline loads the result."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gen_app.faces.params import CATEGORICAL_FIELDS, FaceCodec
from gen_app.faces.pipeline import FacePipeline
from gen_app.faces.prior import FacePrior
from gen_app.faces.renderer import FaceRenderer

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.train
TINY_RENDERER = ["--resolution", "16", "--channels", "16", "--convs-per-block", "1", "--w-dim", "32", "--batch", "4"]
TINY_RENDERER += ["--part-maps", "4", "--part-map-size", "8"]
TINY_PRIOR = ["--hidden", "16", "--embd", "8", "--batch", "16"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def tiny_faces(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("faces_data")
    cmd = [sys.executable, "-m", "train.faces.data", "--out", str(out), "--count", "24", "--size", "32"]
    subprocess.run(cmd, cwd=ROOT, check=True, timeout=300)
    meta = json.loads((out / "train.json").read_text())
    assert meta["count"] == 24 and (out / "train.rgb").stat().st_size == 24 * 32 * 32 * 3
    assert len((out / "heldout.jsonl").read_text().splitlines()) == 24
    return out


def run(module: str, args: list[str], launcher: list[str] | None = None) -> str:
    result = subprocess.run(
        [*(launcher or [sys.executable]), "-m", module, *args],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout


def run_failing(module: str, args: list[str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600
    )
    assert result.returncode != 0
    return result.stderr


def train_renderer(data: Path, tmp_path: Path, steps: int, launcher: list[str] | None = None) -> str:
    args = ["--data", str(data / "train.rgb"), "--heldout", str(data / "heldout.rgb"), "--steps", str(steps)]
    args += ["--eval-every", "2", "--save-every", "2", "--run-dir", str(tmp_path / "run"), "--out", str(tmp_path / "r")]
    return run("train.faces.train_renderer", [*TINY_RENDERER, *args], launcher)


def train_prior(data: Path, tmp_path: Path, steps: int) -> str:
    args = ["--data", str(data / "train.jsonl"), "--heldout", str(data / "heldout.jsonl"), "--steps", str(steps)]
    args += ["--renderer", str(tmp_path / "r"), "--run-dir", str(tmp_path / "prior-run"), "--out", str(tmp_path / "p")]
    return run("train.faces.train_prior", [*TINY_PRIOR, "--eval-every", "2", "--save-every", "2", *args])


def test_both_stages_train_and_the_app_loads_them(tiny_faces, tmp_path):
    train_renderer(tiny_faces, tmp_path, 3)
    assert (tmp_path / "run" / "state.pt").exists() and list((tmp_path / "run" / "samples").glob("*.png"))
    record = json.loads((tmp_path / "r" / "training.json").read_text())
    assert record["steps_done"] == 3 and record["history"][-1]["psnr"] > 0
    train_prior(tiny_faces, tmp_path, 4)
    prior_record = json.loads((tmp_path / "p" / "training.json").read_text())
    assert prior_record["heldout_nats_per_face"] > 0 and prior_record["baseline_nats_per_face"] > 0
    renderer = FaceRenderer.from_pretrained(tmp_path / "r", strict=True).eval()
    prior = FacePrior.from_pretrained(tmp_path / "p", strict=True).eval()
    faces = FacePipeline(renderer, prior).generate(seed=1, count=2)
    assert len(faces.images) == 2 and faces.images[0].size == (256, 256)


def test_renderer_and_prior_resume_from_their_state(tiny_faces, tmp_path):
    train_renderer(tiny_faces, tmp_path, 2)
    cpu_seconds = torch.load(tmp_path / "run" / "state.pt", weights_only=True)["train_cpu_seconds"]
    out = train_renderer(tiny_faces, tmp_path, 4)
    assert "resumed from" in out and "at step 2" in out
    record = json.loads((tmp_path / "r" / "training.json").read_text())
    assert record["steps_done"] == 4 and "cpu_hours" in record
    # The CPU time (the budget's measure on a shared machine) carries over a resume, as the wall-clock does.
    assert torch.load(tmp_path / "run" / "state.pt", weights_only=True)["train_cpu_seconds"] > cpu_seconds > 0
    train_prior(tiny_faces, tmp_path, 2)
    out = train_prior(tiny_faces, tmp_path, 4)
    assert "resumed from" in out and "at step 2" in out


def test_renderer_fine_tunes_from_a_checkpoint_with_a_part_oversampled(tiny_faces, tmp_path):
    from train.faces.train_renderer import sampling_weights

    train_renderer(tiny_faces, tmp_path / "first", 2)
    args = ["--data", str(tiny_faces / "train.rgb"), "--heldout", str(tiny_faces / "heldout.rgb"), "--steps", "2"]
    args += ["--eval-every", "2", "--run-dir", str(tmp_path / "run2"), "--out", str(tmp_path / "r2")]
    args += ["--init-from", str(tmp_path / "first" / "r"), "--oversample", "glasses.id=5"]
    out = run("train.faces.train_renderer", [*TINY_RENDERER, *args])
    assert "initialised" in out
    record = json.loads((tmp_path / "r2" / "training.json").read_text())
    assert record["oversample"] == ["glasses.id=5"] and record["previous_stage"]["steps_done"] == 2
    codec = FaceCodec.from_config([["a", "none"]] + [["x"]] * (len(CATEGORICAL_FIELDS) - 1), [])
    cat = torch.zeros(4, len(CATEGORICAL_FIELDS), dtype=torch.long)
    cat[:2, CATEGORICAL_FIELDS.index("gender")] = 1  # two faces with "none" in the first field
    weights = sampling_weights(cat, codec, [f"{CATEGORICAL_FIELDS[0]}=5"])
    assert weights.tolist() == [1.0, 1.0, 5.0, 5.0]
    bad = run_failing("train.faces.train_renderer", [*TINY_RENDERER, *args[:-1], "hair.colour=5"])
    assert "--oversample" in bad


def test_sprite_stage_fine_tunes_resumes_and_the_app_draws_it(tiny_faces, tmp_path):
    """The shipped renderer's last stage: part sprites added to a trained renderer (--init-from --sprites)."""
    train_renderer(tiny_faces, tmp_path / "first", 2)
    args = ["--data", str(tiny_faces / "train.rgb"), "--heldout", str(tiny_faces / "heldout.rgb")]
    args += ["--eval-every", "2", "--save-every", "2", "--run-dir", str(tmp_path / "run"), "--out", str(tmp_path / "r")]
    args += ["--init-from", str(tmp_path / "first" / "r"), "--sprites", "--ema-beta", "0.995"]
    assert "initialised" in run("train.faces.train_renderer", [*TINY_RENDERER, *args, "--steps", "2"])
    out = run("train.faces.train_renderer", [*TINY_RENDERER, *args, "--steps", "4"])
    assert "resumed from" in out and "at step 2" in out
    record = json.loads((tmp_path / "r" / "training.json").read_text())
    assert record["steps_done"] == 4 and record["ema_beta"] == 0.995 and record["sprite_lr_scale"] == 100
    train_prior(tiny_faces, tmp_path, 2)
    renderer = FaceRenderer.from_pretrained(tmp_path / "r", strict=True).eval()
    assert renderer.part_sprites
    prior = FacePrior.from_pretrained(tmp_path / "p", strict=True).eval()
    faces = FacePipeline(renderer, prior).morph(seed_a=1, seed_b=2, frames=3)
    assert len(faces.images) == 3 and faces.images[0].size == (256, 256)


def test_renderer_adversarial_fine_tune_resumes_with_its_discriminator(tiny_faces, tmp_path):
    train_renderer(tiny_faces, tmp_path / "first", 2)
    args = ["--data", str(tiny_faces / "train.rgb"), "--heldout", str(tiny_faces / "heldout.rgb")]
    args += ["--eval-every", "2", "--save-every", "2", "--run-dir", str(tmp_path / "gan"), "--out", str(tmp_path / "g")]
    args += ["--init-from", str(tmp_path / "first" / "r"), "--adversarial", "0.05", "--disc-features", "4"]
    args += ["--line-weight", "4"]
    run("train.faces.train_renderer", [*TINY_RENDERER, *args, "--steps", "2"])
    state = torch.load(tmp_path / "gan" / "state.pt", weights_only=False)
    assert {"discriminator", "disc_opt"} <= set(state)
    out = run("train.faces.train_renderer", [*TINY_RENDERER, *args, "--steps", "4"])
    assert "resumed from" in out and "at step 2" in out
    record = json.loads((tmp_path / "g" / "training.json").read_text())
    assert record["adversarial"] == 0.05 and record["disc_features"] == 4 and record["steps_done"] == 4
    assert record["line_weight"] == 4
    FaceRenderer.from_pretrained(tmp_path / "g", strict=True)


def test_stroke_weights_weigh_thin_dark_lines():
    from train.faces.train_renderer import stroke_weights

    image = torch.full((1, 3, 16, 16), 0.6)  # skin
    image[:, :, 8, 2:14] = -1.0  # a one-pixel black stroke
    weights = stroke_weights(image, 4.0)
    assert weights[0, 0, 8, 8] > 4 and abs(weights[0, 0, 2, 8] - 1) < 1e-5  # on the stroke; a flat area
    assert torch.equal(stroke_weights(image, 0.0), torch.ones_like(weights))


def test_renderer_trains_with_torchrun_two_processes_gloo(tiny_faces, tmp_path):
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    train_renderer(tiny_faces, tmp_path, 2, launcher)
    assert json.loads((tmp_path / "r" / "training.json").read_text())["processes"] == 2
    FaceRenderer.from_pretrained(tmp_path / "r", strict=True)
