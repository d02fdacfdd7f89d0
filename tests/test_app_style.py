"""The style-transfer tab through gradio_client: both modes, downloads with their settings, bad inputs."""

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from gen_app.images import read_png_parameters
from gen_app.style.tab import EXAMPLES, STYLE_EXAMPLES

PHOTO = str(EXAMPLES / "chelsea.jpg")


def stylize(client, photo=PHOTO, style="starry_night", strength=1.0, blend_with="", blend=0.5, keep=False, size=512):
    return client.predict(handle_file(photo), style, strength, blend_with, blend, keep, size, api_name="/stylize")


def test_stylize_returns_the_comparison_and_a_download(client):
    pair, download, summary = stylize(client, strength=0.8, blend_with="great_wave", blend=0.3)
    with Image.open(PHOTO) as photo, Image.open(download) as painted:
        assert painted.size == photo.size and painted.mode == "RGB"
    params = read_png_parameters(download)
    assert params["style"] == "starry_night" and params["blend_with"] == "great_wave" and params["strength"] == 0.8
    before, after = pair
    with Image.open(before) as a, Image.open(after) as b:
        assert a.size == b.size
    assert "Starry Night" in summary and " ms" in summary


def test_any_style_streams_then_gives_a_download(client):
    job = client.submit(
        handle_file(PHOTO), handle_file(str(STYLE_EXAMPLES / "ejiri.jpg")), 30, 256, False, api_name="/stylize_any"
    )
    outputs = list(job)
    assert len(outputs) >= 3  # previews at 10 and 20 iterations, then the result
    image, download, status = outputs[-1]
    assert status.startswith("Done") and "30 of 30" in status
    assert read_png_parameters(download)["steps"] == 30
    with Image.open(image) as result:
        assert max(result.size) == 256


@pytest.mark.parametrize("kind, message", [("text", "not an image"), ("tiny", "16 pixels"), ("none", "upload")])
def test_bad_uploads_are_explained_and_the_tab_keeps_working(client, tmp_path, kind, message):
    path = tmp_path / "upload.png"
    if kind == "text":
        path.write_text("this is not a picture")
    elif kind == "tiny":
        Image.new("RGB", (8, 8)).save(path)
    upload = None if kind == "none" else handle_file(str(path))
    with pytest.raises(AppError, match=message):
        client.predict(upload, "lion", 1.0, "", 0.5, False, 512, api_name="/stylize")
    assert stylize(client, size=256)[1]


def test_unknown_style_is_refused(client):
    with pytest.raises(AppError, match="not in the list of choices|Unknown style"):
        stylize(client, style="not_a_painting")


def test_any_style_without_a_style_image_is_explained(client):
    with pytest.raises(AppError, match="upload an image"):
        client.predict(handle_file(PHOTO), None, 30, 256, False, api_name="/stylize_any")


def test_nan_strength_through_the_raw_http_api(app_url):
    import httpx

    base = app_url.rstrip("/") + "/gradio_api/call/stylize"
    payload = '{"data": [null, "lion", NaN, "", 0.5, false, 512]}'  # JSON has no NaN; Python's parser accepts it
    event_id = httpx.post(base, content=payload, headers={"Content-Type": "application/json"}).json()["event_id"]
    stream = httpx.get(f"{base}/{event_id}", timeout=60).text
    assert "event: error" in stream and "Strength" in stream, stream
