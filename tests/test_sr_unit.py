"""Super-resolution: tiling, image modes, EXIF, limits and the shipped model's quality floor."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from gen_app.limits import InvalidInput
from gen_app.sr.model import SRNet
from gen_app.sr.pipeline import MAX_INPUT_SIDE, SRPipeline, upscale_tiled


@pytest.fixture(scope="module")
def random_pipe():
    """A small network with random (non-zero) weights: tiling must be exact for any weights."""
    torch.manual_seed(0)
    model = SRNet(scale=4, channels=16, num_convs=4)
    for parameter in model.parameters():
        torch.nn.init.normal_(parameter, std=0.1)
    return SRPipeline({4: model.eval()})


def noise_image(mode: str, size=(70, 50), seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, size[::-1], dtype=np.uint16))
    bands = len(Image.new(mode, (1, 1)).getbands())
    array = rng.integers(0, 256, (*size[::-1], bands), dtype=np.uint8)
    return Image.fromarray(array[..., 0] if bands == 1 else array)


def test_tiled_equals_untiled(random_pipe):
    model = random_pipe.models[4]
    x = torch.rand(1, 3, 90, 130)
    whole = upscale_tiled(model, x, tile=1000)
    tiled = upscale_tiled(model, x, tile=32)
    assert whole.shape == (360, 520, 3) and whole.dtype == torch.uint8  # rounded as written: never a float copy
    differ = whole != tiled  # float noise (1e-6) can flip a rounding: by one level, at a rare pixel
    assert (whole.int() - tiled.int()).abs().max() <= 1 and differ.float().mean() < 1e-3


def test_untrained_network_is_bicubic():
    x = torch.rand(1, 3, 20, 30)
    out = SRNet(scale=2).eval()(x)
    assert torch.allclose(out, torch.nn.functional.interpolate(x, scale_factor=2, mode="bicubic"), atol=1e-6)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "I;16"])
def test_modes_are_kept(random_pipe, mode):
    image = noise_image(mode)
    out = random_pipe.upscale(image, 4).image
    assert out.mode == image.mode and out.size == (280, 200)


def test_alpha_is_upscaled_not_dropped(random_pipe):
    image = Image.new("RGBA", (40, 40), (200, 30, 30, 0))
    image.paste((200, 30, 30, 255), (10, 10, 30, 30))  # an opaque square on a transparent background
    alpha = np.asarray(random_pipe.upscale(image, 4).image)[..., 3]
    assert alpha[0, 0] < 30 and alpha[80, 80] > 225


def test_palette_and_cmyk_become_rgb(random_pipe):
    for image in (noise_image("RGB").convert("P"), noise_image("RGB").convert("CMYK")):
        result = random_pipe.upscale(image, 4)
        assert result.image.mode == "RGB" and result.notices


def test_exif_orientation_is_honoured(random_pipe):
    image = noise_image("RGB", size=(60, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    buffer.seek(0)
    assert random_pipe.upscale(buffer, 4).image.size == (120, 240)


def test_bad_inputs_are_explained(random_pipe, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    truncated = tmp_path / "broken.png"
    noise_image("RGB").save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    huge = tmp_path / "huge.png"
    Image.new("L", (MAX_INPUT_SIDE + 1, 8)).save(huge)
    cases = [
        (None, "upload an image"),
        (text, "not an image"),
        (truncated, "damaged"),
        (huge, "limit"),
        (Image.new("RGB", (0, 5)), "empty"),
    ]
    for source, message in cases:
        with pytest.raises(InvalidInput, match=message):
            random_pipe.upscale(source, 4)
    with pytest.raises(InvalidInput, match="Scale"):
        random_pipe.upscale(noise_image("RGB"), 3)


# The floor: +1.5 dB at x4 (the shipped model: +1.502, see bench/sr.py and the model card; the
# computation is deterministic on the CPU).
SHIPPED_X4_GAIN_DB = 1.5


def test_shipped_x4_beats_bicubic_on_the_validation_photos():
    pytest.importorskip("skimage")
    pytest.importorskip("sklearn")
    from bench.sr import psnr_ssim, shrink, validation_photos

    pipe = SRPipeline.load(torch.device("cpu"))
    gains = []
    for truth in validation_photos().values():
        small = shrink(truth, 4)
        ours = psnr_ssim(pipe.upscale(small, 4).image, truth, 4)[0]
        bicubic = psnr_ssim(small.resize(truth.size, Image.BICUBIC), truth, 4)[0]
        gains.append(ours - bicubic)
    assert np.mean(gains) >= SHIPPED_X4_GAIN_DB, gains
