"""The realistic degradation pipeline (gen_app/sr/degradations.py): parameters in range, reproducible, the right
sizes and values, JPEG and noise really applied, and the validation protocol fixed."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter

from gen_app.sr import degradations as d
from gen_app.sr.pipeline import jpeg_quality

DRAWS = 2000


@pytest.fixture(scope="module")
def plans() -> list[d.Plan]:
    rng = np.random.default_rng(0)
    return [d.random_plan(rng) for _ in range(DRAWS)]


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A textured 'photo': blurred noise with a gradient, 128 x 96 (not square, to catch swapped axes)."""
    rng = np.random.default_rng(1)
    noise = Image.fromarray(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)).filter(ImageFilter.GaussianBlur(1.5))
    ramp = np.linspace(0, 80, 128)[None, :, None]
    return np.clip(np.asarray(noise) * 0.7 + ramp, 0, 255).astype(np.uint8)


def within(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= value <= bounds[1]


def check_blur(blur: d.Blur, ranges: d.StageRanges) -> None:
    assert blur.size in d.KERNEL_SIZES
    if blur.kind == "sinc":
        assert within(blur.cutoff, (math.pi / 3 if blur.size < 13 else math.pi / 5, math.pi))
        return
    assert blur.kind in d.KERNEL_KINDS
    assert within(blur.sigma[0], ranges.blur_sigma) and within(blur.sigma[1], ranges.blur_sigma)
    assert within(blur.angle, (-math.pi, math.pi))
    if blur.kind in ("iso", "generalized_iso", "plateau_iso"):
        assert blur.sigma[0] == blur.sigma[1]
    if blur.kind.startswith("generalized"):
        assert within(blur.beta, ranges.betag)
    elif blur.kind.startswith("plateau"):
        assert within(blur.beta, ranges.betap)
    else:
        assert blur.beta == 1.0


def check_order(order: d.Order, ranges: d.StageRanges) -> None:
    if order.blur is not None:
        check_blur(order.blur, ranges)
    assert within(order.resize, ranges.resize_range) and order.resize_mode in d.RESIZE_MODES
    noise = order.noise
    assert within(noise.strength, ranges.noise_sigma if noise.kind == "gaussian" else ranges.poisson_scale)
    assert noise.kind in ("gaussian", "poisson")
    assert within(order.jpeg, ranges.jpeg_quality) and isinstance(order.jpeg, int)


def test_every_parameter_is_drawn_in_its_range(plans):
    for plan in plans:
        check_order(plan.first, d.FIRST)
        check_order(plan.second, d.SECOND)
        if plan.final_sinc is not None:
            assert plan.final_sinc.kind == "sinc" and plan.final_sinc.size in d.KERNEL_SIZES
            assert within(plan.final_sinc.cutoff, d.FINAL_SINC_CUTOFF)
        assert plan.final_mode in d.RESIZE_MODES and within(plan.final_jpeg, d.SECOND.jpeg_quality)


def test_draws_follow_the_documented_probabilities(plans):
    """Loose bounds (several standard deviations at 2000 draws): every branch is taken about as often as stated."""

    def share(flags) -> float:
        return float(np.mean(list(flags)))

    first = [p.first for p in plans]
    assert abs(share(o.blur.kind == "sinc" for o in first) - d.FIRST.sinc_prob) < 0.03
    assert abs(share(p.second.blur is not None for p in plans) - d.SECOND.blur_prob) < 0.04
    assert abs(share(p.final_sinc is not None for p in plans) - d.FINAL_SINC_PROB) < 0.04
    assert abs(share(o.noise.gray for o in first) - d.FIRST.gray_noise_prob) < 0.04
    assert abs(share(o.noise.kind == "gaussian" for o in first) - d.FIRST.gaussian_noise_prob) < 0.04
    assert abs(share(o.resize < 1 for o in first) - d.FIRST.resize_probs[1]) < 0.04
    assert abs(share(p.jpeg_before_resize for p in plans) - 0.5) < 0.04
    kinds = {o.blur.kind for o in first}
    assert kinds == {*d.KERNEL_KINDS, "sinc"}


def test_mild_plans_are_in_range_and_half_of_training_pairs():
    rng = np.random.default_rng(3)
    mild = [d.random_mild_plan(rng) for _ in range(DRAWS)]
    for plan in mild:
        assert plan.first.resize is None and plan.first.noise is None and plan.final_sinc is None
        if plan.first.blur is not None:
            assert plan.first.blur.kind == "iso" and within(plan.first.blur.sigma[0], d.MILD.blur_sigma)
        assert plan.second.resize == 1.0 and plan.final_mode in d.MILD.resize_modes
        if plan.second.noise is not None:
            assert plan.second.noise.kind == "gaussian" and within(plan.second.noise.strength, d.MILD.noise_sigma)
        assert plan.final_jpeg is None or within(plan.final_jpeg, d.MILD.jpeg_quality)
    share = float(np.mean([p.first.blur is not None for p in mild]))
    assert abs(share - d.MILD.blur_prob) < 0.04
    assert abs(float(np.mean([p.final_jpeg is not None for p in mild])) - d.MILD.jpeg_prob) < 0.04
    clean = [p for p in mild if p.first.blur is None and p.second.noise is None and p.final_jpeg is None]
    assert clean  # some pairs are clean shrinks

    def mild_share(mild_prob: float) -> float:
        plans = [d.training_plan(rng, mild_prob) for _ in range(DRAWS)]
        return float(np.mean([p.final_sinc is None and p.first.resize is None for p in plans]))

    # A second-order plan has a first-order resize or a final sinc, except (1 - 0.8) * 0.1 of them.
    assert abs(mild_share(d.MILD_PROB) - d.MILD_PROB) < 0.06
    assert abs(mild_share(0.8) - 0.8) < 0.06
    assert mild_share(1.0) == 1.0


def test_clean_pairs_come_at_their_share():
    seeds = [(7, 0, step) for step in range(DRAWS)]
    plans = [d.training_plan(np.random.default_rng(seed), 0.8, clean_prob=0.2) for seed in seeds]
    assert abs(float(np.mean([p == d.clean_plan() for p in plans])) - 0.2) < 0.04
    rest = [p for p in plans if p != d.clean_plan()]
    assert abs(float(np.mean([p.final_sinc is None and p.first.resize is None for p in rest])) - 0.8) < 0.06


def test_a_clean_pair_is_an_antialiased_shrink(photo):
    plan = d.clean_plan()
    assert plan.file_quality is None  # the network is told: no JPEG
    low = d.to_uint8(d.apply_plan(d.to_tensor(photo), plan, 4))
    pil = np.asarray(Image.fromarray(photo).resize((32, 24), Image.BICUBIC))
    assert low.shape == (24, 32, 3) and np.abs(low.astype(int) - pil.astype(int)).mean() < 3


@pytest.mark.parametrize("kind", [*d.KERNEL_KINDS, "sinc"])
def test_kernels_are_normalised_and_centred(kind):
    blur = d.Blur(kind, 15, (2.0, 0.7), 0.6, 1.5 if "generalized" in kind or "plateau" in kind else 1.0, 1.2)
    k = blur.kernel()
    assert k.shape == (15, 15) and np.isfinite(k).all() and abs(k.sum() - 1) < 1e-9
    assert np.unravel_index(k.argmax(), k.shape) == (7, 7)
    np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-12)  # point-symmetric: blurs do not shift the image


def test_filter_matches_a_direct_convolution():
    image = torch.rand(3, 30, 40, dtype=torch.float64)
    kernel = d.Blur("generalized_aniso", 21, (2.5, 0.6), 1.0, 0.7).kernel()
    direct = F.conv2d(
        F.pad(image[None], (10,) * 4, mode="reflect"), torch.from_numpy(kernel).expand(3, 1, -1, -1), groups=3
    )
    torch.testing.assert_close(d.filter2d(image, kernel), direct[0], rtol=0, atol=1e-12)
    tiny = torch.rand(3, 6, 5)  # smaller than the kernel: replicate padding instead of failing
    assert d.filter2d(tiny, kernel).shape == (3, 6, 5)


def test_same_result_on_any_number_of_threads(photo):
    before = torch.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            results.append([d.degrade(photo, np.random.default_rng(seed)) for seed in range(4)])
    finally:
        torch.set_num_threads(before)
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


def test_same_seed_same_image_other_seed_other_image(photo):
    a = d.degrade(photo, np.random.default_rng(7))
    b = d.degrade(photo, np.random.default_rng(7))
    c = d.degrade(photo, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("scale", [4, 2])
def test_output_size_and_values(photo, plans, scale):
    image = d.to_tensor(photo)
    for plan in plans[:12]:  # varied plans: up/down resizes, both final orders, with and without a sinc
        low = d.apply_plan(image, plan, scale)
        assert low.shape == (3, 96 // scale, 128 // scale) and low.dtype == torch.float32
        assert low.min() >= 0 and low.max() <= 1
        assert torch.equal(low, (low * 255).round() / 255)  # on 8-bit levels, like a decoded file
    array = d.degrade(photo, np.random.default_rng(0), scale)
    assert array.shape == (96 // scale, 128 // scale, 3) and array.dtype == np.uint8


def test_batch_matches_one_by_one(photo):
    high = torch.stack([d.to_tensor(photo), d.to_tensor(photo[::-1].copy())])
    seeds = [(0, 0, 5, 0), (0, 0, 5, 1)]
    low, qualities = d.degrade_batch(high, seeds)
    assert low.shape == (2, 3, 24, 32)
    np.testing.assert_array_equal(d.to_uint8(low[1]), d.degrade(photo[::-1], np.random.default_rng(seeds[1])))
    plans = [d.training_plan(np.random.default_rng(seed)) for seed in seeds]
    assert qualities == [plan.file_quality for plan in plans]


def test_a_plan_names_its_file_quality_only_when_a_jpeg_save_comes_last():
    rng = np.random.default_rng(3)
    plans = [d.training_plan(rng) for _ in range(400)]
    for plan in plans:
        last_is_jpeg = plan.final_jpeg is not None and not plan.jpeg_before_resize
        assert plan.file_quality == (plan.final_jpeg if last_is_jpeg else None)
    qualities = [p.file_quality for p in plans if p.file_quality is not None]
    assert 0.4 < len(qualities) / len(plans) < 0.9 and min(qualities) >= 40 and max(qualities) <= 95


def blockiness(array: np.ndarray) -> float:
    """Mean jump across 8 x 8 JPEG block edges over the mean jump elsewhere (about 1 without block artefacts)."""
    gray = array.astype(np.float64).mean(2)
    jumps = np.abs(np.diff(gray, axis=1))  # jumps[:, i] is between columns i and i + 1
    edges = np.zeros(jumps.shape[1], dtype=bool)
    edges[7::8] = True
    return float(jumps[:, edges].mean() / jumps[:, ~edges].mean())


def test_jpeg_is_really_applied(photo):
    smooth = np.asarray(Image.fromarray(photo).filter(ImageFilter.GaussianBlur(3)))
    coded = d.to_uint8(d.jpeg(d.to_tensor(smooth), 20))
    assert blockiness(smooth) < 1.1 and blockiness(coded) > 1.3
    assert 0 < np.abs(coded.astype(int) - smooth).mean() < 10


def test_noise_is_really_applied():
    flat = torch.full((3, 64, 64), 0.5)
    colour = d.add_noise(flat, d.Noise("gaussian", 10.0, gray=False, seed=0))
    assert abs((colour - 0.5).std().item() * 255 - 10) < 0.5 and abs(colour.mean().item() - 0.5) < 0.01
    gray = d.add_noise(flat, d.Noise("gaussian", 10.0, gray=True, seed=0))
    assert torch.equal(gray[0], gray[1]) and torch.equal(gray[1], gray[2]) and gray.std() > 0
    shot = d.add_noise(flat, d.Noise("poisson", 1.0, gray=False, seed=0))
    # Poisson(0.5 * 255) / 255 has standard deviation sqrt(127.5) / 255, about 11 levels of 255.
    assert abs((shot - 0.5).std().item() * 255 - math.sqrt(127.5)) < 0.7
    again = d.add_noise(flat, d.Noise("poisson", 1.0, gray=False, seed=0))
    assert torch.equal(shot, again)


@pytest.mark.parametrize("setting", list(d.VALIDATION_SETTINGS))
def test_validation_settings_are_fixed_and_sized(photo, setting):
    hr = Image.fromarray(photo[:95, :127])  # not a multiple of 4: cropped like bench/sr.py's photos
    low = d.validation_lr(hr, setting)
    assert low.size == (31, 23) and low.mode == "RGB"
    quality = {"jpeg75": 75, "blur-jpeg60": 60, "noise-jpeg50": 50, "second-order": 60}[setting]
    assert low.format == "JPEG" and jpeg_quality(low) == quality  # a JPEG file, as an upload is
    np.testing.assert_array_equal(np.asarray(low), np.asarray(d.validation_lr(hr, setting)))
    clean = np.asarray(Image.fromarray(photo[:92, :124]).resize((31, 23), Image.BICUBIC), dtype=int)
    assert np.abs(np.asarray(low, dtype=int) - clean).mean() > 0.5  # something was degraded
    assert d.validation_lr(hr, setting, scale=2).size == (63, 47)


def test_validation_noise_and_jpeg_show():
    flat = Image.new("RGB", (128, 128), (120, 130, 140))
    assert np.asarray(d.validation_lr(flat, "jpeg75"), dtype=float).std(axis=(0, 1)).max() < 1
    noisy = np.asarray(d.validation_lr(flat, "noise-jpeg50"), dtype=float)
    assert noisy.std(axis=(0, 1)).min() > 1  # JPEG 50 smooths sigma 6 (most of the chroma) but keeps part of it
    with pytest.raises(ValueError, match="unknown validation setting"):
        d.validation_lr(flat, "heavy")
