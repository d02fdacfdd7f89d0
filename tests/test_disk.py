"""Disk stays bounded: each output is stored once (in Gradio's cache), old outputs are swept by age, and the
outputs folder never holds more than its size budget."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import gradio as gr
import pytest
from gradio.utils import get_upload_folder
from gradio_client import Client, handle_file
from PIL import Image

from gen_app import outputs
from gen_app.outputs import new_output_path, output_dir, prune

ROOT = Path(__file__).resolve().parent.parent


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_an_output_is_stored_once(app_url):
    client = Client(app_url, verbose=False, download_files=False)  # a client's downloads would be copies too
    before = set(files_under(Path(get_upload_folder())))
    photo = handle_file(str(ROOT / "gen_app/sr/examples/chelsea-small.png"))
    _, download, _ = client.predict(photo, 2, api_name="/upscale")
    served = Path(download["path"])
    assert served.parent == output_dir() and served.suffix == ".png"  # Gradio serves the file where it was written
    new = [p for p in files_under(Path(get_upload_folder())) if p not in before]
    assert [p for p in new if p.suffix == ".png" and digest(p) == digest(served)] == [served]  # and only there


def test_the_same_result_twice_at_once_is_never_rewritten_under_a_download(app_url):
    """Two users upscaling the same example at once get the same pictures: each is shown from a file of its own
    (Gradio's own save of an image rewrites one file named by its content, truncating it under a download)."""
    client = Client(app_url, verbose=False, download_files=False)
    photo = ROOT / "gen_app/sr/examples/chelsea-small.png"
    jobs = [client.submit(handle_file(str(photo)), 2, api_name="/upscale") for _ in range(2)]
    sliders = [job.result(timeout=300)[0] for job in jobs]
    shown = [Path(side["path"]) for slider in sliders for side in slider]
    assert len(set(shown)) == 4 and all(p.parent == output_dir() for p in shown)
    assert digest(shown[0]) == digest(shown[2]) and digest(shown[1]) == digest(shown[3])  # the same pictures


def test_save_for_display_writes_a_new_file_each_time():
    image = Image.new("RGB", (8, 8), "red")
    first, second = outputs.save_for_display(image, "shown"), outputs.save_for_display(image, "shown")
    assert first != second and Image.open(first).tobytes() == Image.open(second).tobytes() == image.tobytes()


def write(folder: Path, name: str, size: int, age: float) -> Path:
    path = folder / name
    path.write_bytes(b"x" * size)
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def test_prune_removes_old_files_then_the_oldest_past_the_budget(tmp_path):
    expired = write(tmp_path, "expired.png", 10, age=2 * outputs.MAX_AGE_SECONDS)
    oldest = write(tmp_path, "oldest.png", 400, age=outputs.MAX_AGE_SECONDS - 10)
    older = write(tmp_path, "older.png", 400, age=outputs.MAX_AGE_SECONDS - 20)
    recent = write(tmp_path, "recent.png", 400, age=outputs.MIN_AGE_SECONDS + 10)
    fresh = write(tmp_path, "fresh.png", 400, age=1)
    prune(tmp_path, max_bytes=900)
    assert not expired.exists() and not oldest.exists() and not older.exists()
    assert recent.exists() and fresh.exists()  # 800 bytes: within the budget


def test_prune_never_removes_a_file_a_page_may_still_fetch(tmp_path):
    young = [write(tmp_path, f"young{i}.png", 1000, age=5) for i in range(3)]
    prune(tmp_path, max_bytes=100)
    assert all(p.exists() for p in young)


def test_outputs_go_to_gradio_cache_and_the_app_sweeps_it(app_demo, monkeypatch, tmp_path):
    assert app_demo.delete_cache == outputs.CACHE_SWEEP
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    assert new_output_path("face", ".png").parent == tmp_path / "gen_app_outputs"


@pytest.fixture
def sweeping_app(monkeypatch, tmp_path):
    """A one-button app that writes outputs the way the tabs do, with a one-second sweep."""
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))

    def make() -> str:
        path = new_output_path("out", ".txt")
        path.write_text("an output")
        return str(path)

    with gr.Blocks(delete_cache=(1, 1)) as demo:
        button = gr.Button()
        result = gr.File()
        button.click(make, None, result, api_name="make")
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    yield demo, tmp_path
    demo.close()


def test_swept_outputs_leave_the_disk(sweeping_app):
    demo, cache = sweeping_app
    client = Client(demo.local_url, verbose=False, download_files=False)
    for _ in range(5):
        served = Path(client.predict(api_name="/make")["path"])
        assert served.parent == cache / "gen_app_outputs"  # served where it was written: no copy
    deadline = time.time() + 30
    while files_under(cache / "gen_app_outputs") and time.time() < deadline:
        time.sleep(0.5)
    assert files_under(cache / "gen_app_outputs") == []
    assert not [p for p in files_under(cache) if p.read_bytes() == b"an output"]  # nor anywhere else
