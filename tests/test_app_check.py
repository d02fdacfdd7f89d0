"""Provenance through gradio_client: every tab's downloads and text carry their marks, and the "Check a file" tab
(endpoints /check_file and /check_text) reads them back, or explains a file it cannot check."""

import pytest
import soundfile
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from gen_app.provenance.audio import detect_audio
from gen_app.provenance.credentials import read_credentials
from gen_app.provenance.image import detect_image
from gen_app.sr.tab import EXAMPLES as SR_EXAMPLES
from gen_app.style.tab import EXAMPLES as STYLE_EXAMPLES

MIRANDA = """MIRANDA:
O, wonder!
How many goodly creatures are there here!
How beauteous mankind is! O brave new world,
That has such people in't!
PROSPERO:
'Tis new to thee.
"""
SCALE = "M:4/4\nL:1/4\nK:G\nG A B c | d e f g | g f e d | c B A G |]\n"


def image_marked(path: str, tab: str) -> bool:
    with Image.open(path) as image:
        found = detect_image(image)
    with open(path, "rb") as file:
        signed = read_credentials(file.read(), "image/png").signature_valid
    return found.found and found.tab == tab and signed


def test_every_download_carries_its_marks(client):
    gallery, _ = client.predict(11, 2, 0.7, api_name="/generate_faces")
    assert all(image_marked(item["image"], "faces") for item in gallery)
    animation, strip = client.predict(1, 2, 4, 0.7, api_name="/morph_faces")
    assert image_marked(strip, "faces")
    with Image.open(animation) as gif:
        assert detect_image(gif.convert("RGB")).found
    photo = str(STYLE_EXAMPLES / "chelsea.jpg")
    _, download, _ = client.predict(handle_file(photo), "starry_night", 1.0, "", 0.5, False, 512, api_name="/stylize")
    assert image_marked(download, "style")
    # x2: the fainter mark (the SR bench's PSNR), on a small image (the size boost)
    _, download, _ = client.predict(handle_file(str(sorted(SR_EXAMPLES.glob("*.png"))[0])), 2, api_name="/upscale")
    assert image_marked(download, "sr")
    audio, _, _, downloads = client.predict(SCALE, 100, "violin", "(none)", 0.5, 0.3, api_name="/play_abc")
    sound, rate = soundfile.read(audio)
    assert detect_audio(sound, rate).found
    with open(audio, "rb") as file:
        assert read_credentials(file.read(), "audio/wav").signature_valid


def test_check_tab_reads_an_image_download(client):
    gallery, _ = client.predict(12, 1, 0.7, api_name="/generate_faces")
    report, details = client.predict(handle_file(gallery[0]["image"]), api_name="/check_file")
    assert "carries gen_app's watermark" in report and "made by the faces tab" in report
    assert "valid signature" in report and details["watermark"]["found"]


def test_check_tab_reads_generated_text(client):
    text, _ = client.predict("JULIET:\n", 200, 0.8, 0, 1.0, 1.0, 4, api_name="/generate_text")
    report, details = client.predict(text, api_name="/check_text")
    assert details["watermark"]["found"] and details["watermark"]["z"] > 4, report
    report, details = client.predict(MIRANDA, api_name="/check_text")
    assert not details["watermark"]["found"] and details["watermark"]["tokens"] >= 16, report


@pytest.mark.parametrize("kind, message", [("damaged.png", "damaged"), ("data.bin", "not an image, sound or text")])
def test_check_tab_explains_unreadable_files(client, tmp_path, kind, message):
    path = tmp_path / kind
    if kind == "damaged.png":
        Image.new("RGB", (400, 400), "red").save(tmp_path / "whole.png")
        path.write_bytes((tmp_path / "whole.png").read_bytes()[:300])
    else:
        path.write_bytes(bytes(range(256)) * 16)
    with pytest.raises(AppError, match=message):
        client.predict(handle_file(str(path)), api_name="/check_file")
    with pytest.raises(AppError, match="paste some text"):
        client.predict("", api_name="/check_text")
