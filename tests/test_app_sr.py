"""The super-resolution tab through gradio_client."""

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from gen_app.images import read_png_parameters
from gen_app.sr.tab import EXAMPLES


def test_upscale_an_example(client):
    example = sorted(EXAMPLES.glob("*.png"))[0]
    pair, download, summary = client.predict(handle_file(str(example)), 4, api_name="/upscale")
    with Image.open(example) as small, Image.open(download) as big:
        assert big.size == (small.width * 4, small.height * 4) and big.mode == "RGB"
    assert read_png_parameters(download)["scale"] == 4
    before, after = pair
    with Image.open(before) as a, Image.open(after) as b:
        assert a.size == b.size == big.size
    assert "→" in summary


def test_upscale_x2_keeps_rgba(client, tmp_path):
    path = tmp_path / "logo.png"
    image = Image.new("RGBA", (40, 30), (10, 120, 200, 0))
    image.paste((250, 250, 250, 255), (5, 5, 35, 25))
    image.save(path)
    _, download, _ = client.predict(handle_file(str(path)), 2, api_name="/upscale")
    with Image.open(download) as big:
        assert big.mode == "RGBA" and big.size == (80, 60)


@pytest.mark.parametrize("kind, message", [("text", "not an image"), ("huge", "limit")])
def test_bad_uploads_are_explained(client, tmp_path, kind, message):
    path = tmp_path / ("notes.png" if kind == "text" else "huge.png")
    if kind == "text":
        path.write_text("this is not a picture")
    else:
        Image.new("L", (5000, 10)).save(path)
    with pytest.raises(AppError, match=message):
        client.predict(handle_file(str(path)), 4, api_name="/upscale")
    # ... and the tab keeps working.
    example = sorted(EXAMPLES.glob("*.png"))[0]
    assert client.predict(handle_file(str(example)), 2, api_name="/upscale")[1]


def test_missing_image_is_explained(client):
    with pytest.raises(AppError, match="upload an image"):
        client.predict(None, 4, api_name="/upscale")


JPEG_EXAMPLE = EXAMPLES / "coffee-phone.jpg"


def test_photo_type_defaults_to_real_for_a_jpeg(client):
    """Called as before the choice existed (two values): a JPEG gets the real-photo model, a PNG the clean one."""
    _, download, summary = client.predict(handle_file(str(JPEG_EXAMPLE)), 4, api_name="/upscale")
    params = read_png_parameters(download)
    assert params["model"] == "gen_app sr-x4-real" and params["photo_type"] == "real"
    assert "real photo model" in summary
    _, download, summary = client.predict(handle_file(str(sorted(EXAMPLES.glob("*.png"))[0])), 4, api_name="/upscale")
    assert read_png_parameters(download)["model"] == "gen_app sr-x4" and "clean model" in summary


@pytest.mark.parametrize("photo_type, model", [("clean", "gen_app sr-x4"), ("real", "gen_app sr-x4-real")])
def test_photo_type_can_be_chosen(client, photo_type, model):
    _, download, summary = client.predict(handle_file(str(JPEG_EXAMPLE)), 4, photo_type, api_name="/upscale")
    assert read_png_parameters(download)["model"] == model
    with Image.open(JPEG_EXAMPLE) as small, Image.open(download) as big:
        assert big.size == (small.width * 4, small.height * 4)


def test_real_photo_at_x2(client):
    _, download, _ = client.predict(handle_file(str(JPEG_EXAMPLE)), 2, "real", api_name="/upscale")
    with Image.open(JPEG_EXAMPLE) as small, Image.open(download) as big:
        assert big.size == (small.width * 2, small.height * 2)
    assert "sr-x4-real" in read_png_parameters(download)["model"]


def test_unknown_photo_type_is_explained(client):
    with pytest.raises(AppError, match="Photo type"):
        client.predict(handle_file(str(JPEG_EXAMPLE)), 4, "vintage", api_name="/upscale")


def test_api_describes_the_photo_type(client):
    parameters = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/upscale"]["parameters"]
    assert [p["parameter_name"] for p in parameters] == ["path", "scale", "photo_type"]
    assert parameters[2]["parameter_has_default"] and parameters[2]["parameter_default"] is None
