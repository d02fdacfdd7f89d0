"""Unit tests of the face generator and its pipeline, on the shipped checkpoint."""

import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from gen_app.faces.attributes import ATTRIBUTES
from gen_app.faces.model import FaceGenerator
from gen_app.faces.pipeline import FacePipeline
from gen_app.images import read_png_parameters, save_png
from gen_app.limits import InvalidInput
from gen_app.loading import CHECKPOINTS
from gen_app.seeding import MAX_SEED, latents


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def test_same_seed_same_face(face_pipeline):
    first = face_pipeline.generate(seed=123, count=3, psi=0.8)
    again = face_pipeline.generate(seed=123, count=3, psi=0.8)
    for a, b in zip(first.images, again.images, strict=True):
        assert np.array_equal(pixels(a), pixels(b))
    assert first.seeds == [123, 124, 125]


def test_face_does_not_depend_on_batch_position(face_pipeline):
    batch = face_pipeline.generate(seed=500, count=4, psi=1.0)
    alone = face_pipeline.generate(seed=502, count=1, psi=1.0)
    assert np.abs(pixels(batch.images[2]) - pixels(alone.images[0])).max() <= 2  # conv rounding only


def test_different_seeds_differ(face_pipeline):
    a, b = face_pipeline.generate(seed=1, count=2, psi=1.0).images
    assert np.abs(pixels(a) - pixels(b)).mean() > 5


def test_latents_are_per_seed_and_device_independent():
    z = latents([7, 8], 16)
    assert torch.equal(z[1], latents([8], 16)[0])
    assert torch.equal(z[0], torch.randn(16, generator=torch.Generator().manual_seed(7)))


def test_psi_zero_gives_the_mean_face(face_pipeline):
    faces = face_pipeline.generate(seed=0, count=4, psi=0.0)
    for image in faces.images[1:]:
        assert np.abs(pixels(image) - pixels(faces.images[0])).max() <= 1
    model = face_pipeline.model
    w = model.map(latents([3], model.z_dim), model.sample_labels([3]), psi=0.0)
    assert torch.allclose(w[0], model.w_avg)


def test_morph_endpoints_are_the_seeds_faces(face_pipeline):
    morph = face_pipeline.morph(seed_a=11, seed_b=99, frames=6, psi=0.7)
    assert len(morph.images) == 6
    start = face_pipeline.generate(seed=11, count=1, psi=0.7).images[0]
    end = face_pipeline.generate(seed=99, count=1, psi=0.7).images[0]
    assert np.abs(pixels(morph.images[0]) - pixels(start)).max() <= 2
    assert np.abs(pixels(morph.images[-1]) - pixels(end)).max() <= 2
    # Smooth: each step changes the picture less than the jump between the two end faces.
    jump = np.abs(pixels(start) - pixels(end)).mean()
    steps = [np.abs(pixels(a) - pixels(b)).mean() for a, b in zip(morph.images, morph.images[1:], strict=False)]
    assert max(steps) < jump


def test_fixed_attributes_are_used_and_recorded(face_pipeline):
    model = face_pipeline.model
    assert list(face_pipeline.attributes) == list(ATTRIBUTES)
    labels = model.sample_labels(list(range(50)), {"glasses": 1, "hair style": 0})
    assert (labels[:, 1] == 1).all() and (labels[:, 4] == 0).all()
    assert labels[:, 0].unique().numel() == 2  # the attributes left free still vary
    faces = face_pipeline.generate(seed=3, count=2, attributes={"glasses": "glasses", "gender": "random"})
    assert faces.params["attributes"] == {"glasses": "glasses"}
    assert face_pipeline.describe(3, {"glasses": 1})["glasses"] == "glasses"


def test_unfixed_labels_follow_the_training_distribution(face_pipeline):
    # Each attribute's share over many seeds matches the label table stored in the checkpoint.
    model = face_pipeline.model
    labels = model.sample_labels(list(range(4000)))
    combos = model.label_combos
    for k in range(combos.shape[1]):
        expected = torch.zeros(int(combos[:, k].max()) + 1, dtype=torch.float64)
        expected.index_add_(0, combos[:, k], model.label_probs)
        observed = torch.bincount(labels[:, k], minlength=len(expected)).double() / len(labels)
        assert (observed - expected).abs().max() < 0.03


@pytest.mark.parametrize(
    "attributes, message",
    [({"eyes": "blue"}, "Unknown attribute"), ({"glasses": "monocle"}, "glasses must be one of")],
)
def test_bad_attributes_raise_clear_errors(face_pipeline, attributes, message):
    with pytest.raises(InvalidInput, match=message):
        face_pipeline.generate(seed=1, attributes=attributes)


def test_seed_wraps_at_the_top_of_the_range(face_pipeline):
    assert face_pipeline.generate(seed=MAX_SEED, count=2).seeds == [MAX_SEED, 0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"seed": -1}, "Seed"),
        ({"seed": MAX_SEED + 1}, "Seed"),
        ({"seed": 1.5}, "whole number"),
        ({"seed": None}, "Seed"),
        ({"seed": 1, "count": 0}, "Number of faces"),
        ({"seed": 1, "count": 1000}, "Number of faces"),
        ({"seed": 1, "psi": float("nan")}, "finite"),
        ({"seed": 1, "psi": float("inf")}, "finite"),
        ({"seed": 1, "psi": "abc"}, "Truncation"),
    ],
)
def test_bad_inputs_raise_clear_errors(face_pipeline, kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        face_pipeline.generate(**kwargs)


def test_morph_rejects_bad_frames(face_pipeline):
    with pytest.raises(InvalidInput, match="Frames"):
        face_pipeline.morph(1, 2, frames=1000)


def test_png_carries_parameters(face_pipeline, tmp_path):
    faces = face_pipeline.generate(seed=5, count=1)
    path = save_png(faces.images[0], tmp_path / "face.png", faces.params)
    params = read_png_parameters(path)
    assert params["seed"] == 5 and params["psi"] == 0.7 and params["model"] == "gen_app/faces"


def test_strict_loading_rejects_a_missing_tensor(tmp_path):
    broken = tmp_path / "faces"
    shutil.copytree(CHECKPOINTS / "faces", broken)
    weights = load_file(broken / "model.safetensors")
    weights.pop("to_rgb.weight")
    save_file(weights, broken / "model.safetensors")
    with pytest.raises(RuntimeError, match="to_rgb.weight"):
        FaceGenerator.from_pretrained(broken, strict=True)


def test_pipeline_runs_on_an_unconditional_random_model():
    model = FaceGenerator(resolution=16, channels=[32, 16, 8]).eval()
    pipe = FacePipeline(model, origin="test")
    faces = pipe.generate(seed=3, count=2)
    assert len(faces.images) == 2 and faces.images[0].size == (256, 256) and pipe.attributes == {}


def test_shipped_faces_are_varied(face_pipeline):
    # A collapsed GAN draws (nearly) one face for every seed; the shipped one must not.
    faces = face_pipeline.generate(seed=1000, count=16, psi=1.0).images
    arrays = np.stack([pixels(image.resize((64, 64))) for image in faces]).astype(np.float32)
    pairwise = np.abs(arrays[:, None] - arrays[None, :]).mean(axis=(2, 3, 4))
    pairs = pairwise[np.triu_indices(16, 1)]
    assert np.median(pairs) > 10 and pairs.min() > 2  # a collapsed generator scores below 0.1


def test_fixing_an_attribute_changes_the_face_where_it_should(face_pipeline):
    # Same seeds, glasses fixed on vs off: the eye band changes more than the chin.
    on = face_pipeline.generate(seed=10, count=8, psi=0.7, attributes={"glasses": "glasses"}).images
    off = face_pipeline.generate(seed=10, count=8, psi=0.7, attributes={"glasses": "none"}).images
    diff = np.mean([np.abs(pixels(a) - pixels(b)) for a, b in zip(on, off, strict=True)], axis=(0, 3))
    eyes, chin = diff[100:140].mean(), diff[210:250].mean()
    assert eyes > 2 * chin and eyes > 5
