"""Training smoke tests: the real scripts, a few steps on a handful of faces, then the app loads the result."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gen_app.faces.model import FaceGenerator
from gen_app.faces.pipeline import FacePipeline

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.train
TINY = ["--resolution", "16", "--channels", "32,16,8", "--d-channels", "16,32", "--batch", "8", "--steps", "3"]


@pytest.fixture(scope="module")
def tiny_faces(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("faces_data")
    cmd = [sys.executable, "train/build_faces_data.py", "--out", str(out), "--sets", "train", "--count", "24"]
    subprocess.run(cmd + ["--size", "32"], cwd=ROOT, check=True, timeout=300)
    meta = json.loads((out / "train.json").read_text())
    assert meta["count"] == 24 and (out / "train.rgb").stat().st_size == 24 * 32 * 32 * 3
    return out / "train.rgb"


def run_training(launcher: list[str], data: Path, tmp_path: Path) -> Path:
    out = tmp_path / "checkpoint"
    args = ["--data", str(data), "--run-dir", str(tmp_path / "run"), "--out", str(out), "--sample-every", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [*launcher, "train/train_faces.py", *TINY, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert (tmp_path / "run" / "state.pt").exists() and list((tmp_path / "run" / "samples").glob("*.png"))
    return out


def assert_app_loads(checkpoint: Path) -> None:
    assert {"config.json", "model.safetensors", "README.md"} <= {p.name for p in checkpoint.iterdir()}
    model = FaceGenerator.from_pretrained(checkpoint, strict=True)
    faces = FacePipeline(model.eval(), origin=str(checkpoint)).generate(seed=1, count=2)
    assert len(faces.images) == 2


def test_single_process_training_writes_a_loadable_checkpoint(tiny_faces, tmp_path):
    checkpoint = run_training([sys.executable], tiny_faces, tmp_path)
    assert_app_loads(checkpoint)
    record = json.loads((checkpoint / "training.json").read_text())
    assert record["steps"] == 3 and record["processes"] == 1


def test_training_resumes_from_its_state(tiny_faces, tmp_path):
    run_training([sys.executable], tiny_faces, tmp_path)
    out = tmp_path / "checkpoint"
    cmd = [sys.executable, "train/train_faces.py", *TINY[:-1], "5", "--data", str(tiny_faces)]
    cmd += ["--run-dir", str(tmp_path / "run"), "--out", str(out)]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resumed from" in result.stdout and "at step 3" in result.stdout
    assert json.loads((out / "training.json").read_text())["steps"] == 5


def test_torchrun_two_processes_gloo(tiny_faces, tmp_path):
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    checkpoint = run_training(launcher, tiny_faces, tmp_path)
    assert json.loads((checkpoint / "training.json").read_text())["processes"] == 2
    assert_app_loads(checkpoint)
