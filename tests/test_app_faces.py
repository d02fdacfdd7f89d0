"""The whole app through gradio_client, as an API user (or the browser) would call it: the faces tab, and
what all tabs share (test_app_<tab>.py hold the other tabs)."""

import json

import httpx
import pytest
from gradio_client.exceptions import AppError
from PIL import Image

from gen_app.images import read_png_parameters


def test_every_endpoint_is_listed(client):
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert {"/generate_faces", "/face_variations", "/morph_faces", "/random_seed"} <= set(endpoints)


def test_generate_faces(client):
    gallery, seed_used = client.predict(42, 4, 0.7, api_name="/generate_faces")
    assert seed_used == 42 and len(gallery) == 4
    assert [item["caption"] for item in gallery] == ["seed 42", "seed 43", "seed 44", "seed 45"]
    with Image.open(gallery[0]["image"]) as image:
        assert image.size == (256, 256) and image.mode == "RGB"
    params = read_png_parameters(gallery[1]["image"])
    assert params["seed"] == 43 and params["temperature"] == 0.7 and params["count"] == 4
    assert params["face"]["gender"] in ("female", "male") and "hair" in params["face"]["face"]


def test_generate_with_fixed_attributes_and_parts(client, face_pipeline):
    # The tab's inputs after temperature: the offered attributes, then the offered parts, in the pipeline's order.
    chosen = {"gender": "male", "facial hair": "facial hair", "hair": "short"}
    values = [chosen.get(name, "random") for name in [*face_pipeline.attributes, *face_pipeline.parts]]
    gallery, _ = client.predict(5, 2, 0.7, *values, api_name="/generate_faces")
    params = read_png_parameters(gallery[0]["image"])
    assert params["choices"] == chosen
    face = params["face"]["face"]
    assert face["hair"]["id"] == "short" and face["facialHair"]["id"] != "none"


def test_face_variations(client):
    gallery = client.predict(42, 6, 0.3, 1.0, api_name="/face_variations")
    assert [item["caption"] for item in gallery][:2] == ["seed 42", "variation 1"] and len(gallery) == 6
    first = read_png_parameters(gallery[0]["image"])
    single, _ = client.predict(42, 1, 1.0, api_name="/generate_faces")
    assert first["face"] == read_png_parameters(single[0]["image"])["face"]


def test_morph_faces(client):
    animation, strip = client.predict(1, 2, 8, 0.7, api_name="/morph_faces")
    with Image.open(animation) as gif:
        assert gif.format == "GIF" and gif.n_frames == 14  # 8 frames there, 6 back
    with Image.open(strip) as sheet:
        assert sheet.size == (8 * 128, 128)
    with Image.open(animation) as gif:
        assert gif.size == (256, 256)


def test_random_seed(client):
    seeds = {client.predict(api_name="/random_seed") for _ in range(3)}
    assert all(0 <= s <= 2**32 - 1 for s in seeds) and len(seeds) > 1


@pytest.mark.parametrize(
    "args, message",
    [
        ((-1, 4, 0.7), "less than minimum"),
        ((2**32, 4, 0.7), "greater than maximum"),
        ((1, 0, 0.7), "less than minimum"),
        ((1, 1000, 0.7), "greater than maximum"),
        ((None, 4, 0.7), "Seed must be a whole number"),
    ],
)
def test_bad_inputs_give_clear_errors(client, args, message):
    with pytest.raises(AppError, match=message):
        client.predict(*args, api_name="/generate_faces")


def test_nan_through_the_raw_http_api(app_url):
    # JSON clients cannot send NaN, but Python's json (and Gradio's parser) accept the bare token.
    base = app_url.rstrip("/") + "/gradio_api/call/generate_faces"
    payload = '{"data": [1, 4, NaN' + ', "random"' * 17 + "]}"
    event = httpx.post(base, content=payload, headers={"Content-Type": "application/json"})
    event_id = event.json()["event_id"]
    stream = httpx.get(f"{base}/{event_id}", timeout=60).text
    assert "event: error" in stream and "finite" in stream, stream


def test_app_keeps_working_after_errors(client):
    with pytest.raises(AppError):
        client.predict(1, 1000, 0.7, api_name="/generate_faces")
    gallery, _ = client.predict(7, 1, 0.5, api_name="/generate_faces")
    assert len(gallery) == 1


def test_examples_and_about_panel_are_in_the_page(app_url):
    config = httpx.get(app_url.rstrip("/") + "/config").json()
    text = json.dumps(config)
    assert "About this model" in text and "Examples" in text
