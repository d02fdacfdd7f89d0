"""Training smoke test for style transfer: the real script, a few steps on tiny photos with the shipped
paintings, single process, resumed, started from another checkpoint, and with torchrun (2 processes, gloo)."""

import json
import sys

import numpy as np
import pytest
from PIL import Image, ImageFilter
from test_train_smoke_sr_text import TORCHRUN, run

from gen_app.style.model import StyleNet
from gen_app.style.pipeline import StylePipeline, load_styles

pytestmark = pytest.mark.train
TINY = ["--size", "64", "--style-size", "64", "--width", "8", "--body-width", "8", "--blocks", "1", "--batch", "2"]


@pytest.fixture(scope="module")
def content(tmp_path_factory):
    folder = tmp_path_factory.mktemp("content")
    rng = np.random.default_rng(0)
    for i in range(4):
        noise = Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
        noise.filter(ImageFilter.GaussianBlur(3)).save(folder / f"{i:04d}.jpg", quality=92)
    return folder


@pytest.mark.parametrize("launcher", ["python", "torchrun"])
def test_style_training_writes_a_loadable_checkpoint(content, tmp_path, launcher):
    out, run_dir = tmp_path / "style", tmp_path / "run"
    args = ["-m", "train.style.train", *TINY, "--content", str(content), "--eval-every", "2", "--run-dir", str(run_dir)]
    run([*(TORCHRUN if launcher == "torchrun" else [sys.executable]), *args, "--steps", "3", "--out", str(out)])
    record = json.loads((out / "training.json").read_text())
    assert record["processes"] == (2 if launcher == "torchrun" else 1) and record["steps_done"] == 3
    assert list(run_dir.glob("samples_*.jpg"))  # the sample sheet of each evaluation
    model = StyleNet.from_pretrained(out, strict=True).eval()
    pipe = StylePipeline(model, load_styles())
    assert pipe.stylize(Image.new("RGB", (30, 20)), "lion").image.size == (30, 20)
    if launcher == "python":
        assert "resumed from" in run([sys.executable, *args, "--steps", "4", "--out", str(out)])
        again = ["--run-dir", str(tmp_path / "run2"), "--out", str(tmp_path / "style2"), "--steps", "1"]
        assert "initialised 22/22 tensors" in run([sys.executable, *args[:-2], "--init-from", str(out), *again])
        second = json.loads((tmp_path / "style2" / "training.json").read_text())
        assert second["previous_stage"]["steps_done"] == 4  # the card lists every stage
