"""Realistic degradations for super-resolution: Real-ESRGAN's second-order pipeline and a fixed validation protocol.

A photo people upload is not a bicubic-shrunk image: it was blurred by the lens or a resize, noisy from the sensor,
and saved as JPEG, sometimes twice (shared, edited, re-shared). Real-ESRGAN (Wang et al. 2021, "Training
Real-World Blind Super-Resolution with Pure Synthetic Data"; xinntao/Real-ESRGAN realesrgan/models/
realesrgan_model.py and XPixelGroup/BasicSR basicsr/data/degradations.py) makes training pairs by applying
that chain twice, each time with random strengths:

    HR -> blur -> random resize -> Gaussian or Poisson noise -> JPEG          (first order)
       -> blur (p = 0.8) -> random resize -> noise -> [resize to LR + sinc] and JPEG, in random order
                                                                               (second order, final step)

The blur kernel is, with Real-ESRGAN's probabilities, an isotropic or anisotropic Gaussian, a generalised
Gaussian (exponent beta), a "plateau" kernel 1 / (1 + d^beta) or (p = 0.1) a 2-D sinc (an ideal low-pass with
the ringing of over-sharpened photos); sizes are odd, 7 to 21 px. Resizes use area, bilinear or bicubic. Noise
is colour or (p = 0.4) gray. The final sinc filter (p = 0.8) adds ringing at the LR size.

Everything random is drawn from a numpy Generator into a `Plan` (plain dataclasses), which `apply_plan` then
carries out with no randomness of its own (the noise is drawn from a seed stored in the plan): so a (seed,
image) pair always gives the same LR image, the drawn parameters can be checked against their ranges, and the
validation protocol reuses the same code with hand-written plans.

Ranges (`FIRST`, `SECOND`, `FINAL_SINC_PROB`) are Real-ESRGAN's x4plus settings (options/finetune_realesrgan_
x4plus.yml), except where marked "deviation" below. Why we deviate: that recipe trains a 16.7M-parameter RRDB
for a GAN look on 256-400 px crops; ours trains a ~0.47M-parameter network (gen_app/sr/model.py) on a CPU, on
128-256 px crops, for the issue's floors, which are PSNR against the original on everyday JPEGs (quality
50-75, a little noise). So the heaviest tails, which mostly teach a small L1 network to smooth everything,
are trimmed: noise sigma 1-20 / 1-15 (not 30 / 25), Poisson scale up to 2.5 / 2 (not 3 / 2.5), JPEG quality 40-95
(not 30-95); the first resize goes down to 0.25 (not 0.15: on a 128 px crop that is 19 px, where the 21 px
kernels see mostly padding) and the second to 0.5 of the LR size (not 0.3: a 3x blur of the LR image,
which no validation setting has).

Not copied from Real-ESRGAN: it draws the resize factors and modes once per batch (on the GPU) and mixes
samples across batches through a "training pair pool"; here every sample gets its own plan, so no pool is needed.
It sharpens the ground truth (unsharp mask) for its L1 and perceptual losses; we do not, since the floors are PSNR
against the original photo. JPEG is PIL's encoder (libjpeg, 4:2:0 chroma), not its differentiable DiffJPEG.

The validation protocol (`VALIDATION_SETTINGS`, `validation_lr`) is fixed and deterministic: a few named
settings, each the same for every photo, unlike any single training draw.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

KERNEL_SIZES = tuple(range(7, 22, 2))  # odd sizes 7..21, as Real-ESRGAN
KERNEL_KINDS = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
RESIZE_MODES = ("area", "bilinear", "bicubic")


@dataclass(frozen=True)
class StageRanges:
    """Where one order of degradation draws its parameters from (probabilities and closed [low, high] ranges)."""

    blur_prob: float  # chance that this order blurs at all
    kernel_probs: tuple[float, ...]  # over KERNEL_KINDS (when not a sinc)
    sinc_prob: float  # chance that the blur is a 2-D sinc instead
    blur_sigma: tuple[float, float]  # Gaussian-family widths, HR pixels
    betag: tuple[float, float]  # generalised Gaussian exponent
    betap: tuple[float, float]  # plateau exponent
    resize_probs: tuple[float, float, float]  # up, down, keep
    resize_range: tuple[float, float]  # first order: x the current size; second: x the LR size
    gaussian_noise_prob: float  # else Poisson
    noise_sigma: tuple[float, float]  # Gaussian noise, in 0-255 units
    poisson_scale: tuple[float, float]
    gray_noise_prob: float
    jpeg_quality: tuple[int, int]


FIRST = StageRanges(
    blur_prob=1.0,
    kernel_probs=(0.45, 0.25, 0.12, 0.03, 0.12, 0.03),
    sinc_prob=0.1,
    blur_sigma=(0.2, 3.0),
    betag=(0.5, 4.0),
    betap=(1.0, 2.0),
    resize_probs=(0.2, 0.7, 0.1),
    resize_range=(0.25, 1.5),  # deviation: 0.15
    gaussian_noise_prob=0.5,
    noise_sigma=(1.0, 20.0),  # deviation: 30
    poisson_scale=(0.05, 2.5),  # deviation: 3
    gray_noise_prob=0.4,
    jpeg_quality=(40, 95),  # deviation: 30
)
SECOND = StageRanges(
    blur_prob=0.8,
    kernel_probs=(0.45, 0.25, 0.12, 0.03, 0.12, 0.03),
    sinc_prob=0.1,
    blur_sigma=(0.2, 1.5),
    betag=(0.5, 4.0),
    betap=(1.0, 2.0),
    resize_probs=(0.3, 0.4, 0.3),
    resize_range=(0.5, 1.2),  # deviation: 0.3
    gaussian_noise_prob=0.5,
    noise_sigma=(1.0, 15.0),  # deviation: 25
    poisson_scale=(0.05, 2.0),  # deviation: 2.5
    gray_noise_prob=0.4,
    jpeg_quality=(40, 95),  # deviation: 30
)
FINAL_SINC_PROB = 0.8
FINAL_SINC_CUTOFF = (math.pi / 3, math.pi)


@dataclass(frozen=True)
class MildRanges:
    """A mild, first-order degradation: a photo shrunk once (antialiased, as photo tools do), maybe a little blur,
    maybe a little noise, maybe one JPEG; with none of them, the clean pair."""

    blur_prob: float
    blur_sigma: tuple[float, float]  # isotropic Gaussian, HR pixels
    resize_modes: tuple[str, ...]
    noise_prob: float
    noise_sigma: tuple[float, float]  # Gaussian, 0-255 units, at the LR size
    gray_noise_prob: float
    jpeg_prob: float
    jpeg_quality: tuple[int, int]


# Deviation from Real-ESRGAN, which trains on the second order only: that taught the small network to deblur and
# denoise everything. At step 8,000 of that recipe it was 0.3 dB below bicubic on the validation set's plain JPEG 75
# and 2.6 dB below the clean model on clean input, while 0.4 dB above bicubic on the second-order setting. So half of
# the training pairs are mild ones instead.
MILD_PROB = 0.5
MILD = MildRanges(
    blur_prob=0.4,
    blur_sigma=(0.3, 1.6),
    resize_modes=("antialiased", "area", "bicubic"),
    noise_prob=0.4,
    noise_sigma=(1.0, 10.0),
    gray_noise_prob=0.3,
    jpeg_prob=0.85,
    jpeg_quality=(45, 95),
)
MILD_KERNEL_SIZE = 13  # enough for sigma 1.6 (+-4 sigma)


# ----------------------------------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Blur:
    """One blur kernel. sigma = (x, y) widths before rotating by `angle`; `cutoff` (radians/pixel) for a sinc."""

    kind: str  # one of KERNEL_KINDS, or "sinc"
    size: int
    sigma: tuple[float, float] = (1.0, 1.0)
    angle: float = 0.0
    beta: float = 1.0
    cutoff: float = math.pi

    def kernel(self) -> np.ndarray:
        """The normalised (size, size) kernel, float64."""
        r = (self.size - 1) / 2
        y, x = np.mgrid[-r : r + 1, -r : r + 1]
        if self.kind == "sinc":
            # Circular low-pass: cutoff * J1(cutoff * d) / (2 pi d), with its limit cutoff^2 / (4 pi) at d = 0.
            d = torch.from_numpy(np.hypot(x, y))
            k = (self.cutoff * torch.special.bessel_j1(self.cutoff * d) / (2 * math.pi * d.clamp_min(1e-12))).numpy()
            k[int(r), int(r)] = self.cutoff**2 / (4 * math.pi)
            return k / k.sum()
        # x^T S^-1 x for the covariance S = R diag(sx^2, sy^2) R^T.
        cos, sin = math.cos(self.angle), math.sin(self.angle)
        u, v = cos * x + sin * y, -sin * x + cos * y
        d2 = (u / self.sigma[0]) ** 2 + (v / self.sigma[1]) ** 2
        if self.kind.startswith("generalized"):
            k = np.exp(-0.5 * d2**self.beta)
        elif self.kind.startswith("plateau"):
            k = 1 / (d2**self.beta + 1)
        else:
            k = np.exp(-0.5 * d2)
        return k / k.sum()


@dataclass(frozen=True)
class Noise:
    """Gaussian (`strength` = sigma in 0-255 units) or Poisson (`strength` = scale) noise, colour or gray."""

    kind: str  # "gaussian" or "poisson"
    strength: float
    gray: bool
    seed: int  # the noise itself is drawn from this, so applying a plan is deterministic


@dataclass(frozen=True)
class Order:
    """One order of degradation: blur -> resize -> noise -> JPEG (any step may be None)."""

    blur: Blur | None
    resize: float | None  # factor (first order: x current size; second: x LR size)
    resize_mode: str
    noise: Noise | None
    jpeg: int | None


@dataclass(frozen=True)
class Plan:
    """Everything one degradation does; `apply_plan` carries it out."""

    first: Order
    second: Order
    final_sinc: Blur | None
    final_mode: str
    final_jpeg: int | None
    jpeg_before_resize: bool  # the final step's order: JPEG then resize + sinc, or resize + sinc then JPEG

    @property
    def file_quality(self) -> int | None:
        """The JPEG quality the degraded image is saved at, when its last step is a JPEG (None: not a JPEG file):
        what a network that is told an upload's JPEG quality (gen_app/sr/model.py) sees for this pair."""
        return self.final_jpeg if not self.jpeg_before_resize else None


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def random_blur(rng: np.random.Generator, ranges: StageRanges) -> Blur:
    """A blur kernel as Real-ESRGAN draws it (basicsr random_mixed_kernels and the sinc branch of its dataset)."""
    size = int(rng.choice(KERNEL_SIZES))
    if rng.uniform() < ranges.sinc_prob:
        # Small kernels get a gentler sinc: a low cutoff needs room for its wide main lobe.
        low = math.pi / 3 if size < 13 else math.pi / 5
        return Blur("sinc", size, cutoff=_uniform(rng, (low, math.pi)))
    kind = str(rng.choice(KERNEL_KINDS, p=ranges.kernel_probs))
    sx = _uniform(rng, ranges.blur_sigma)
    if kind.endswith("iso") and not kind.endswith("aniso"):
        sigma, angle = (sx, sx), 0.0
    else:
        sigma, angle = (sx, _uniform(rng, ranges.blur_sigma)), _uniform(rng, (-math.pi, math.pi))
    beta = 1.0
    if kind.startswith(("generalized", "plateau")):
        bounds = ranges.betag if kind.startswith("generalized") else ranges.betap
        # Half below 1, half above, as Real-ESRGAN: both sharper- and flatter-topped kernels are common.
        beta = _uniform(rng, (bounds[0], 1.0)) if rng.uniform() < 0.5 else _uniform(rng, (1.0, bounds[1]))
    return Blur(kind, size, sigma, angle, beta)


def random_order(rng: np.random.Generator, ranges: StageRanges) -> Order:
    blur = random_blur(rng, ranges) if rng.uniform() < ranges.blur_prob else None
    direction = ("up", "down", "keep")[int(rng.choice(3, p=ranges.resize_probs))]
    if direction == "up":
        factor = _uniform(rng, (1.0, ranges.resize_range[1]))
    elif direction == "down":
        factor = _uniform(rng, (ranges.resize_range[0], 1.0))
    else:
        factor = 1.0
    mode = str(rng.choice(RESIZE_MODES))
    gray = bool(rng.uniform() < ranges.gray_noise_prob)
    if rng.uniform() < ranges.gaussian_noise_prob:
        noise = Noise("gaussian", _uniform(rng, ranges.noise_sigma), gray, int(rng.integers(2**63)))
    else:
        noise = Noise("poisson", _uniform(rng, ranges.poisson_scale), gray, int(rng.integers(2**63)))
    jpeg = int(rng.integers(ranges.jpeg_quality[0], ranges.jpeg_quality[1] + 1))
    return Order(blur, factor, mode, noise, jpeg)


def random_mild_plan(rng: np.random.Generator, ranges: MildRanges = MILD) -> Plan:
    """Draw one mild degradation (see MildRanges), as a Plan: the first order blurs at the HR size, the second
    shrinks to the LR size and adds the noise there, and the final step is the JPEG."""
    blur = None
    if rng.uniform() < ranges.blur_prob:
        sigma = _uniform(rng, ranges.blur_sigma)
        blur = Blur("iso", MILD_KERNEL_SIZE, (sigma, sigma))
    mode = str(rng.choice(ranges.resize_modes))
    noise = None
    if rng.uniform() < ranges.noise_prob:
        gray = bool(rng.uniform() < ranges.gray_noise_prob)
        noise = Noise("gaussian", _uniform(rng, ranges.noise_sigma), gray, int(rng.integers(2**63)))
    quality = None
    if rng.uniform() < ranges.jpeg_prob:
        quality = int(rng.integers(ranges.jpeg_quality[0], ranges.jpeg_quality[1] + 1))
    return Plan(Order(blur, None, mode, None, None), Order(None, 1.0, mode, noise, None), None, mode, quality, False)


def clean_plan() -> Plan:
    """No degradation but the shrink (antialiased bicubic, as bench/sr.py's clean set and photo tools do), saved
    losslessly: the clean model's kind of pair."""
    shrink = "antialiased"
    return Plan(Order(None, None, shrink, None, None), Order(None, 1.0, shrink, None, None), None, shrink, None, False)


def training_plan(rng: np.random.Generator, mild_prob: float = MILD_PROB, clean_prob: float = 0.0) -> Plan:
    """A training pair's degradation: clean with probability `clean_prob`, else mild with probability `mild_prob`,
    else Real-ESRGAN's second order. (The clean draw is only made when `clean_prob` > 0, so the plans of a seed
    without it are those of earlier runs.)"""
    if clean_prob > 0 and rng.uniform() < clean_prob:
        return clean_plan()
    return random_mild_plan(rng) if rng.uniform() < mild_prob else random_plan(rng)


def random_plan(rng: np.random.Generator, first: StageRanges = FIRST, second: StageRanges = SECOND) -> Plan:
    """Draw one second-order degradation."""
    one, two = random_order(rng, first), random_order(rng, second)
    final_sinc = None
    if rng.uniform() < FINAL_SINC_PROB:
        final_sinc = Blur("sinc", int(rng.choice(KERNEL_SIZES)), cutoff=_uniform(rng, FINAL_SINC_CUTOFF))
    mode = str(rng.choice(RESIZE_MODES))
    jpeg = int(rng.integers(second.jpeg_quality[0], second.jpeg_quality[1] + 1))
    return Plan(one, two, final_sinc, mode, jpeg, jpeg_before_resize=bool(rng.uniform() < 0.5))


# -------------------------------------------------------------------------------------------------- applying it


def filter2d(image: torch.Tensor, kernel: np.ndarray) -> torch.Tensor:
    """Correlate a (3, H, W) image with a 2-D kernel, per channel; reflect padding (replicate on tiny images).

    By FFT in float64: as exact as a direct sum (errors ~1e-13) and 40x faster than torch's float64 conv2d."""
    pad = kernel.shape[0] // 2
    mode = "reflect" if pad < min(image.shape[-2:]) else "replicate"
    padded = F.pad(image[None], (pad, pad, pad, pad), mode=mode)[0].double()
    size = tuple(padded.shape[-2:])
    flipped = torch.from_numpy(np.ascontiguousarray(kernel[::-1, ::-1], dtype=np.float64))  # correlation
    spectrum = torch.fft.rfft2(padded) * torch.fft.rfft2(flipped, s=size)
    # Circular convolution of the padded image: the last H x W outputs are the ones with no wrap-around.
    return torch.fft.irfft2(spectrum, s=size)[..., 2 * pad :, 2 * pad :].to(image.dtype)


def resize(image: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """Resize a (3, H, W) image to (h, w) with F.interpolate, as Real-ESRGAN (no antialiasing: aliasing is real)."""
    if tuple(image.shape[-2:]) == size:
        return image
    if mode == "antialiased":  # bicubic with an antialiasing filter when shrinking, as PIL and photo tools do
        return F.interpolate(image[None], size=size, mode="bicubic", align_corners=False, antialias=True)[0]
    align = {} if mode == "area" else {"align_corners": False}
    return F.interpolate(image[None], size=size, mode=mode, **align)[0]


def add_noise(image: torch.Tensor, noise: Noise) -> torch.Tensor:
    """Add Gaussian or Poisson noise (colour, or the same on every channel for gray), clipped to [0, 1]."""
    rng = np.random.default_rng(noise.seed)
    shape = (1, *image.shape[1:]) if noise.gray else tuple(image.shape)
    if noise.kind == "gaussian":
        n = torch.from_numpy(rng.standard_normal(shape, dtype=np.float32)) * (noise.strength / 255)
    else:
        # Shot noise: counts ~ Poisson(intensity * 255) (an 8-bit image's levels), scaled; gray noise is drawn
        # on the channel mean (basicsr: on the luma) and added to every channel.
        base = image.mean(0, keepdim=True) if noise.gray else image
        base = base.clamp(0, 1).numpy().astype(np.float64)
        n = torch.from_numpy((rng.poisson(base * 255) / 255 - base).astype(np.float32)) * noise.strength
    return (image + n.to(image.dtype)).clamp(0, 1)


def jpeg_file(array: np.ndarray, quality: int) -> Image.Image:
    """An (H, W, 3) uint8 image saved as JPEG (PIL, in memory: 4:2:0 chroma as most cameras and web tools) and
    opened again: a JPEG image as an upload is, with its format and quantisation tables."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=int(quality))
    return Image.open(buffer)


def jpeg(image: torch.Tensor, quality: int) -> torch.Tensor:
    """Save as JPEG (`jpeg_file`) and decode."""
    decoded = np.asarray(jpeg_file(to_uint8(image), quality).convert("RGB"))
    return torch.from_numpy(decoded.copy()).permute(2, 0, 1).to(image.dtype) / 255


def _apply_order(image: torch.Tensor, order: Order, base: tuple[int, int]) -> torch.Tensor:
    if order.blur is not None:
        image = filter2d(image, order.blur.kernel())
    if order.resize is not None:
        size = (max(1, int(base[0] * order.resize)), max(1, int(base[1] * order.resize)))
        image = resize(image, size, order.resize_mode)
    if order.noise is not None:
        image = add_noise(image, order.noise)
    if order.jpeg is not None:
        image = jpeg(image, order.jpeg)
    return image


def apply_plan(hr: torch.Tensor, plan: Plan, scale: int = 4) -> torch.Tensor:
    """Degrade a (3, H, W) float image in [0, 1] to (3, H // scale, W // scale), rounded to 8-bit levels."""
    h, w = hr.shape[-2:]
    lr_size = (h // scale, w // scale)
    # float64: float32 convolutions round differently with the thread count, and a flipped 8-bit level before a
    # JPEG changes whole blocks; in float64 the same (seed, image) gives the same LR on any number of threads.
    image = _apply_order(hr.double(), plan.first, (h, w))
    image = _apply_order(image, plan.second, lr_size)  # the second resize is relative to the LR size
    if plan.jpeg_before_resize and plan.final_jpeg is not None:
        image = jpeg(image, plan.final_jpeg)
    image = resize(image, lr_size, plan.final_mode)
    if plan.final_sinc is not None:
        image = filter2d(image, plan.final_sinc.kernel())
    if not plan.jpeg_before_resize and plan.final_jpeg is not None:
        image = jpeg(image, plan.final_jpeg)
    return ((image.clamp(0, 1) * 255).round() / 255).float()


def to_tensor(array: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float in [0, 1]."""
    # np.array copies: inputs may be read-only (np.load with mmap, np.asarray of a PIL image).
    return torch.from_numpy(np.array(array)).permute(2, 0, 1).float() / 255


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) float in [0, 1] -> (H, W, 3) uint8."""
    return (image.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()


def degrade(hr: np.ndarray, rng: np.random.Generator, scale: int = 4) -> np.ndarray:
    """A random realistic LR version (`training_plan`) of an (H, W, 3) uint8 HR image: (H // scale, W // scale, 3)
    uint8."""
    return to_uint8(apply_plan(to_tensor(hr), training_plan(rng), scale))


def degrade_batch(
    high: torch.Tensor,
    seeds: list[tuple[int, ...]],
    scale: int = 4,
    mild_prob: float = MILD_PROB,
    clean_prob: float = 0.0,
) -> tuple[torch.Tensor, list[int | None]]:
    """Degrade a (N, 3, H, W) batch in [0, 1], sample i with a plan drawn from default_rng(seeds[i])
    (training: seeds made of the run's seed, rank, step and sample index, so a resumed run sees the same data).
    Returns the degraded batch and each sample's JPEG file quality (`Plan.file_quality`)."""
    plans = [training_plan(np.random.default_rng(seed), mild_prob, clean_prob) for seed in seeds]
    low = torch.stack([apply_plan(image, plan, scale) for image, plan in zip(high, plans, strict=True)])
    return low, [plan.file_quality for plan in plans]


# ---------------------------------------------------------------------------------------- validation protocol

_NOISE_SEED = 2021  # the validation noise is the same for every run

VALIDATION_SETTINGS: dict[str, str] = {
    "jpeg75": "PIL bicubic (antialiased) shrink, JPEG quality 75: a web photo",
    "blur-jpeg60": "Gaussian blur sigma 1.5 HR px (a soft lens or a resize), PIL bicubic shrink, JPEG 60",
    "noise-jpeg50": (
        "PIL bicubic shrink, colour Gaussian noise sigma 6 (of 255) at the LR size, JPEG 50: a phone photo at dusk"
    ),
    "second-order": (
        "anisotropic Gaussian blur (sigma 2.0 x 0.8, 30 degrees), bilinear resize x0.5, Gaussian noise 4 (colour),"
        " JPEG 70; Gaussian blur sigma 0.8, bicubic resize to 0.8 x the LR size, gray Poisson noise x1, then bicubic"
        " resize to the LR size, sinc filter (cutoff 2 pi / 3, 13 px) and JPEG 60: an image shared twice"
    ),
}


def _validation_plan(setting: str) -> Plan | None:
    if setting == "second-order":
        first = Order(
            Blur("aniso", 21, (2.0, 0.8), math.radians(30)), 0.5, "bilinear", Noise("gaussian", 4.0, False, 1), 70
        )
        second = Order(Blur("iso", 9, (0.8, 0.8)), 0.8, "bicubic", Noise("poisson", 1.0, True, 2), None)
        return Plan(first, second, Blur("sinc", 13, cutoff=2 * math.pi / 3), "bicubic", 60, False)
    return None


def validation_lr(hr: Image.Image, setting: str, scale: int = 4) -> Image.Image:
    """The degraded LR image of an HR photo for one of VALIDATION_SETTINGS: deterministic, size = HR // scale.
    Every setting ends with a JPEG save, and the image is that JPEG file opened (as an upload would be).

    The single-order settings shrink with PIL's antialiased bicubic (what bench/sr.py's clean set does and what
    photo tools do) rather than F.interpolate, so they differ from the clean set only by the named degradation."""
    if setting not in VALIDATION_SETTINGS:
        raise ValueError(f"unknown validation setting {setting!r}; expected one of {list(VALIDATION_SETTINGS)}")
    array = np.asarray(hr.convert("RGB"))
    h, w = array.shape[0] // scale * scale, array.shape[1] // scale * scale
    image = to_tensor(array[:h, :w])
    plan = _validation_plan(setting)
    if plan is not None:  # all but its final JPEG (jpeg_file saves the same 8-bit image at the same quality)
        without_jpeg = Plan(plan.first, plan.second, plan.final_sinc, plan.final_mode, None, False)
        return jpeg_file(to_uint8(apply_plan(image, without_jpeg, scale)), plan.final_jpeg)
    if setting == "blur-jpeg60":
        image = filter2d(image, Blur("iso", 13, (1.5, 1.5)).kernel())
    low = to_tensor(np.asarray(Image.fromarray(to_uint8(image)).resize((w // scale, h // scale), Image.BICUBIC)))
    if setting == "noise-jpeg50":
        low = add_noise(low, Noise("gaussian", 6.0, False, _NOISE_SEED))
    quality = {"jpeg75": 75, "blur-jpeg60": 60, "noise-jpeg50": 50}[setting]
    return jpeg_file(to_uint8(low), quality)
