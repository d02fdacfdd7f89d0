"""Security of the running app over raw HTTP (issue 17, items 1 and 2).

1. File inputs read only files the server received (uploads, and the examples Gradio copies into its cache): any
   other path, sent to any file-taking event (named, private or by fn_index; with or without Gradio's `meta`), gets
   one message, whatever the path is, and never the file's content.
2. Every registered event, called with any values, ends with a result or a clear message (a gr.Error's text),
   never Gradio's bare "Error".
"""

import base64
import io
import json
import os
import shutil
import uuid
from pathlib import Path

import httpx
import pytest
from gradio.utils import get_upload_folder
from gradio_client import handle_file
from PIL import Image

from gen_app.audio.tab import EXAMPLES as AUDIO_EXAMPLES
from gen_app.sr.tab import EXAMPLES as SR_EXAMPLES
from gen_app.uploads import REFUSED, checked_upload

ROOT = Path(__file__).resolve().parent.parent
META = {"_type": "gradio.FileData"}
FILE_TYPES = {"image", "audio", "file", "video", "uploadbutton", "imageeditor", "model3d", "multimodaltextbox"}
FILE_EVENTS = {"stylize", "stylize_any", "upscale", "play_midi", "revoice", "check_file"}  # named events taking files
PRIVATE_FILE_EVENTS = {"photo_type_of"}  # the page's own (an upload picks the SR photo type); not in the REST API


# --- raw HTTP helpers --------------------------------------------------------------------------------------------


def call(app_url: str, api_name: str, data: list) -> tuple[str, object]:
    """POST /gradio_api/call/<api_name>, then read its event stream: ("complete", outputs) or ("error", message)."""
    base = f"{app_url.rstrip('/')}/gradio_api/call/{api_name}"
    event_id = httpx.post(base, json={"data": data}, timeout=30).json()["event_id"]
    kind, payload = None, None
    for line in httpx.get(f"{base}/{event_id}", timeout=300).text.splitlines():
        if line.startswith("event: "):
            kind = line[len("event: ") :]
        elif line.startswith("data: ") and kind in ("complete", "error"):
            payload = json.loads(line[len("data: ") :])
    if kind == "error":
        return kind, (payload or {}).get("error") if isinstance(payload, dict) else payload
    return kind, payload


def join(app_url: str, fn_index: int, data: list, event_data=None) -> dict:
    """POST /gradio_api/queue/join as the page does (by fn_index), and return the process_completed message."""
    base = app_url.rstrip("/") + "/gradio_api"
    session = uuid.uuid4().hex
    body = {"data": data, "fn_index": fn_index, "session_hash": session, "event_data": event_data, "trigger_id": None}
    response = httpx.post(f"{base}/queue/join", json=body, timeout=30)
    assert response.status_code == 200, response.text
    with httpx.stream("GET", f"{base}/queue/data", params={"session_hash": session}, timeout=300) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[len("data:") :])
                if message.get("msg") == "process_completed":
                    return message
    raise AssertionError(f"no process_completed message for fn_index {fn_index}")


def error_of(message: dict) -> str | None:
    return None if message["success"] else message["output"].get("error")


def upload(app_url: str, path: Path) -> str:
    """A genuine upload through Gradio's /upload route: the path it was stored at."""
    with path.open("rb") as file:
        response = httpx.post(
            app_url.rstrip("/") + "/gradio_api/upload", files=[("files", (path.name, file))], timeout=60
        )
    return response.json()[0]


@pytest.fixture(scope="module")
def config(app_url) -> dict:
    return httpx.get(app_url.rstrip("/") + "/config", timeout=30).json()


@pytest.fixture(scope="module")
def file_slots(config) -> list[tuple[dict, int]]:
    """Every (event, input position) of the page whose input takes a file, private or not."""
    kinds = {c["id"]: c["type"] for c in config["components"]}
    return [
        (dep, i)
        for dep in config["dependencies"]
        if dep["backend_fn"]
        for i, component in enumerate(dep["inputs"])
        if kinds[component] in FILE_TYPES
    ]


def default_values(config: dict, dep: dict) -> list:
    """The event's input values as the page would send them (sliders at their minimum, to keep any run short)."""
    props = {c["id"]: c.get("props", {}) for c in config["components"]}
    values = []
    for component in dep["inputs"]:
        p = props[component]
        values.append(p["minimum"] if isinstance(p.get("minimum"), int | float) else p.get("value"))
    return values


# --- files outside the upload folder -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def outside(tmp_path_factory) -> dict[str, Path]:
    """Real image, sound and MIDI files on the server, outside Gradio's upload folder."""
    folder = tmp_path_factory.mktemp("outside")
    files = {
        "image": next(SR_EXAMPLES.glob("*.png")),
        "audio": next(AUDIO_EXAMPLES.glob("*.wav")),
        "file": next(AUDIO_EXAMPLES.glob("*.mid")),
    }
    copies = {kind: folder / source.name for kind, source in files.items()}
    for kind, source in files.items():
        shutil.copy(source, copies[kind])
    assert not any(str(p).startswith(os.path.realpath(get_upload_folder())) for p in copies.values())
    return copies


@pytest.fixture(scope="module")
def symlink_out(outside):
    """A symlink inside the upload folder that points to a file outside it."""
    folder = Path(get_upload_folder()) / f"gen-app-test-{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    link = folder / "link.png"
    link.symlink_to(outside["image"])
    yield link
    shutil.rmtree(folder)


def hostile_paths(outside: dict[str, Path], kind: str, link: Path) -> dict[str, str]:
    real = outside.get(kind, outside["image"])
    upload_folder = get_upload_folder()
    return {
        "real file outside": str(real),
        "/etc/passwd": "/etc/passwd",
        "missing file": "/no/such/file.png",
        "missing file in the upload folder": os.path.join(upload_folder, uuid.uuid4().hex, "gone.png"),
        "directory": os.path.dirname(str(real)),
        "the upload folder itself": upload_folder,
        "symlink out of the upload folder": str(link),
        "../ out of the upload folder": os.path.join(upload_folder, os.path.relpath(real, upload_folder)),
        "relative ../ path": "../" * 12 + "etc/passwd",
        "URL": "http://127.0.0.1:9/secret.png",
    }


def test_every_file_event_is_found(file_slots):
    assert {dep["api_name"] for dep, _ in file_slots} == FILE_EVENTS | PRIVATE_FILE_EVENTS


def test_other_paths_are_refused_with_one_message_by_fn_index(app_url, config, file_slots, outside, symlink_out):
    """Each file input of each event, as the page calls it (queue/join by fn_index), with and without `meta`."""
    kinds = {c["id"]: c["type"] for c in config["components"]}
    photo = upload(app_url, next(SR_EXAMPLES.glob("*.png")))
    for dep, slot in file_slots:
        base = default_values(config, dep)
        for i, component in enumerate(dep["inputs"]):  # other file inputs get a genuine upload
            if i != slot and kinds[component] == "image":
                base[i] = {"path": photo, "meta": META}
        kind = kinds[dep["inputs"][slot]]
        for label, path in hostile_paths(outside, kind, symlink_out).items():
            for payload in ({"path": path}, {"path": path, "meta": META}):
                data = list(base)
                data[slot] = payload
                message = join(app_url, dep["id"], data)
                where = f"{dep['api_name']} input {slot}, {label}, {'with' if 'meta' in payload else 'no'} meta"
                assert error_of(message) == REFUSED, (where, message)


@pytest.mark.parametrize("api_name", sorted(FILE_EVENTS))
def test_the_issues_curl_is_refused(app_url, config, outside, api_name):
    """POST /gradio_api/call/<name> with {"path": <a real file on the server>} and no `meta`: refused."""
    dep = next(d for d in config["dependencies"] if d["api_name"] == api_name)
    kinds = {c["id"]: c["type"] for c in config["components"]}
    data = default_values(config, dep)
    for i, component in enumerate(dep["inputs"]):
        if kinds[component] in FILE_TYPES:
            data[i] = {"path": str(outside[kinds[component]])}
    kind, payload = call(app_url, api_name, data)
    assert (kind, payload) == ("error", REFUSED)


def test_genuine_uploads_still_work(client, app_url, config):
    """gradio_client's upload, a raw /upload (with or without `meta`), and an image sent inline as a data URL."""
    example = sorted(SR_EXAMPLES.glob("*.png"))[0]
    pair, download, _ = client.predict(handle_file(str(example)), 2, api_name="/upscale")
    with Image.open(example) as small, Image.open(download) as big:
        assert big.size == (small.width * 2, small.height * 2)
    stored = upload(app_url, example)
    assert call(app_url, "upscale", [{"path": stored}, 2])[0] == "complete"
    assert call(app_url, "upscale", [{"path": stored, "meta": META}, 2])[0] == "complete"
    buffer = io.BytesIO()
    Image.new("RGB", (24, 20), (200, 30, 90)).save(buffer, format="PNG")
    inline = {"url": "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()}
    assert call(app_url, "upscale", [inline, 2])[0] == "complete"
    assert call(app_url, "upscale", [{**inline, "meta": META}, 2])[0] == "complete"


def test_examples_still_work(app_url, config):
    """An example file, as the page gets it from its example event, is accepted by the tab's main event."""
    deps = {d["api_name"]: d for d in config["dependencies"]}
    kinds = {c["id"]: c["type"] for c in config["components"]}
    for target, api_name, other_values in (("image", "upscale", [2]), ("file", "play_midi", None)):
        main = deps[api_name]
        loader = next(
            d
            for d in config["dependencies"]
            if len(d["inputs"]) == 1
            and kinds[d["inputs"][0]] == "dataset"
            and main["inputs"][0] in d["outputs"]
            and kinds[main["inputs"][0]] == target
        )
        loaded = join(app_url, loader["id"], [0])
        assert loaded["success"], loaded
        update = loaded["output"]["data"][loader["outputs"].index(main["inputs"][0])]
        value = update["value"] if isinstance(update, dict) and "value" in update else update
        data = default_values(config, main)
        data[0] = value
        if other_values:
            data[1 : 1 + len(other_values)] = other_values
        message = join(app_url, main["id"], data)
        assert message["success"], (api_name, message)


GARBAGE = [[], [None] * 20, ["x"] * 20, [10**30] * 20, [-1] * 20, [{}] * 20]


def test_every_event_answers_garbage_with_a_result_or_a_message(app_url, config):
    """Every registered event (public, undocumented or private; with a backend or not), by fn_index."""
    assert len(config["dependencies"]) > 20
    for dep in config["dependencies"]:
        for data in GARBAGE:
            message = join(app_url, dep["id"], data)
            if message["success"]:
                continue
            error = error_of(message)
            assert isinstance(error, str) and error.strip(), (dep["id"], dep["api_name"], data, message)
            assert "Traceback" not in error and 'File "' not in error, error


@pytest.mark.parametrize("data, message", [([], "0 of the 1"), ([99], "no such example"), (["x"], "no such example")])
def test_private_example_event_over_raw_http(app_url, data, message):
    kind, error = call(app_url, "generate_faces_example", data)
    assert kind == "error" and message in error


def test_private_example_event_still_loads_an_example(app_url):
    kind, outputs = call(app_url, "generate_faces_example", [0])
    assert kind == "complete" and outputs


def test_gallery_pick_needs_a_click(app_url, config):
    dep = next(d for d in config["dependencies"] if d["api_name"] == "pick_from_gallery")
    assert "click" in error_of(join(app_url, dep["id"], []))
    assert "gallery" in error_of(join(app_url, dep["id"], [], {"index": 99, "value": None, "selected": True}))
    assert join(app_url, dep["id"], [], {"index": 0, "value": None, "selected": True})["success"]


# --- the check itself, without the app ---------------------------------------------------------------------------


def test_checked_upload(tmp_path):
    import gradio as gr

    folder = Path(get_upload_folder()) / f"gen-app-test-{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    try:
        inside = folder / "photo.png"
        Image.new("RGB", (4, 4)).save(inside)
        outside_file = tmp_path / "photo.png"
        shutil.copy(inside, outside_file)
        (folder / "out.png").symlink_to(outside_file)
        (folder / "in.png").symlink_to(inside)
        assert checked_upload(str(inside)) == os.path.realpath(inside)
        assert checked_upload(folder / "in.png") == os.path.realpath(inside)  # a link that stays inside
        refused = [
            outside_file,
            folder / "out.png",
            folder,
            folder / "missing.png",
            os.path.join(folder, os.path.relpath(outside_file, folder)),  # <upload folder>/../..
            "/etc/passwd",
            "",
            f"{inside}\0.png",
            None,
            42,
            ["x"],
        ]
        for value in refused:
            with pytest.raises(gr.Error) as raised:
                checked_upload(value)
            assert raised.value.message == REFUSED, value
        assert checked_upload(outside_file, tmp_path) == os.path.realpath(outside_file)  # an extra folder, if given
    finally:
        shutil.rmtree(folder)
