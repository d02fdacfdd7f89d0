"""The face bench's judges (bench/faces.py): its statistics on known inputs, its ImageNet feature extractor, and
(slow) the attribute classifier checking that a fixed attribute is honoured by the shipped models."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.faces import (
    CONTROL_MIN_SHARE,
    attribute_control,
    frechet_distance,
    imagenet_features,
    precision_recall,
    to_uint8,
    train_classifier,
)
from gen_app.faces.attributes import load_labels
from gen_app.faces.dataset import load_faces
from gen_app.style.features import FeatureNet

ROOT = Path(__file__).resolve().parent.parent


def test_frechet_distance_of_shifted_gaussians():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    assert frechet_distance(a, rng.normal(size=(4000, 3))) < 0.05
    assert frechet_distance(a, rng.normal(size=(4000, 3)) + [2, 0, 0]) == pytest.approx(4.0, abs=0.2)


def test_precision_and_recall_tell_coverage_from_quality():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(500, 4))
    same = precision_recall(real, rng.normal(size=(500, 4)))
    assert same[0] > 0.8 and same[1] > 0.8
    # A generator that draws one corner of the real set well: high precision, low recall (mode collapse).
    collapsed = real[real[:, 0] > 1.0][:, None].repeat(5, axis=1).reshape(-1, 4) + rng.normal(size=(1, 4)) * 1e-3
    precision, recall = precision_recall(real, collapsed)
    assert precision > 0.9 and recall < 0.3
    # Far away: neither.
    assert precision_recall(real, real + 100) == (0.0, 0.0)


def test_imagenet_features_are_finite_and_deterministic():
    net = FeatureNet("lite2", last_block=1_000)
    images = to_uint8(torch.rand(3, 3, 64, 64) * 2 - 1)
    first = imagenet_features(net, images, torch.device("cpu"))
    again = imagenet_features(net, images, torch.device("cpu"))
    assert first.shape[0] == 3 and first.shape[1] >= 256 and np.isfinite(first).all()
    assert np.array_equal(first, again)


@pytest.mark.slow
def test_a_fixed_attribute_is_honoured_on_at_least_90_percent_of_64_faces(face_pipeline, tmp_path):
    # The bench's classifier, trained on freshly rendered real faces, judges the shipped models' faces.
    cmd = [sys.executable, "-m", "train.faces.data", "--out", str(tmp_path), "--sets", "heldout", "--count", "3000"]
    subprocess.run(cmd, cwd=ROOT, check=True, timeout=900)
    resolution = face_pipeline.renderer.resolution
    real = load_faces(tmp_path / "heldout.rgb", resolution)
    labels = load_labels(tmp_path / "heldout.jsonl")
    net = train_classifier(real, labels, epochs=4, device=torch.device("cpu"))
    choices = [("glasses", "glasses"), ("hat/accessory", "accessory"), ("facial hair", "facial hair")]
    shares = attribute_control(face_pipeline, net, torch.device("cpu"), choices)
    for name, value in choices:
        assert shares[name][value] >= CONTROL_MIN_SHARE, (name, shares[name])
