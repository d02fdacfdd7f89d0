"""Fuzzing the running app (issue 17): every named endpoint, any values, and a corpus of hostile files.

Every call must end with a valid output or a gr.Error whose message is specific: not the general message AppBlocks
gives a failure no check foresaw (gen_app.ui.UNHANDLED), not Gradio's bare "Error", not empty, no traceback text.
The app must keep serving afterwards.

- `test_every_endpoint_answers_any_values`: property-based (Hypothesis) over every named endpoint's parameters, as
  the running app's API info lists them (gradio_client `view_api`), so a new endpoint is fuzzed without a change
  here. Each example starts from cheap valid values, then replaces one to three of them with a valid value of the
  parameter's kind or a hostile one (huge, negative and non-integral numbers, NaN and infinities, text with lone
  surrogates, empty and huge text, lists (also of valid choices), dicts, None, booleans), and sometimes sends too
  few or too many values. Sent over raw HTTP (POST /gradio_api/call/<name>, then its event stream), since
  gradio_client cannot send NaN or a lone surrogate.
- `test_hostile_files`: a fixed corpus of files, uploaded through gradio_client's `handle_file`, into every file
  input of every endpoint.

Bounded by default (a few examples per endpoint; valid numbers only up to each slider's default, which keeps the
models' runs short). A longer run: GEN_APP_FUZZ_EXAMPLES=500 python -m pytest tests/test_fuzz.py (examples per
endpoint; valid numbers over each slider's whole range); pick the examples with --hypothesis-seed=N.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import struct
import zlib
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from gen_app.audio.score import Note, midi_bytes
from gen_app.seeding import MAX_SEED
from gen_app.ui import UNHANDLED

# The 100-megapixel PNG makes PIL warn (in the app, which runs in this process) before the app refuses it.
pytestmark = [pytest.mark.fuzz, pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")]

LONG_RUN = int(os.environ.get("GEN_APP_FUZZ_EXAMPLES", "0"))
EXAMPLES_PER_ENDPOINT = LONG_RUN or 5
CALL_SECONDS = 300  # one call's limit (a long run may ask for 2,000 tokens at a time)
META = {"_type": "gradio.FileData"}
FILE_COMPONENTS = {"Image": "image", "Audio": "audio", "File": "file", "Video": "video"}
VALID_TEXTS = ["ROMEO:\nWhat light", "M:4/4\nL:1/8\nK:G\nGABc dedB|dcBA G4|]\n", "M:6/8\nL:1/8\nK:D\nA|dfa afd|]\n"]

# Answers that say nothing about what was wrong.
GENERIC = {UNHANDLED, "Error", "", "One of the request's values is not valid for its input."}
GENERIC_PATTERNS = [re.compile(r"^The value for input \d+ \(.*\) is not valid\.$")]
TRACEBACK = re.compile(r"Traceback|File \"|line \d+, in |\w+Error:")


def assert_specific(message, where) -> None:
    """A gr.Error message meant for a person: text, specific, short, no traceback."""
    assert isinstance(message, str), (where, message)
    assert message.strip() not in GENERIC, (where, message)
    assert not any(p.match(message) for p in GENERIC_PATTERNS), (where, message)
    assert not TRACEBACK.search(message), (where, message)
    assert len(message) < 600, (where, message)


# --- raw HTTP ----------------------------------------------------------------------------------------------------


def call(app_url: str, api_name: str, values: list) -> tuple[str, object]:
    """POST /gradio_api/call/<name> with `values` (JSON as Python writes it: NaN, lone surrogates as escapes), then
    read its event stream to the end: ("complete", outputs) or ("error", message)."""
    base = f"{app_url.rstrip('/')}/gradio_api/call/{api_name}"
    body = json.dumps({"data": values}, allow_nan=True).encode()
    response = httpx.post(base, content=body, headers={"Content-Type": "application/json"}, timeout=60)
    assert response.status_code == 200, (api_name, response.status_code, response.text[:300])
    kind, payload = None, None
    with httpx.stream("GET", f"{base}/{response.json()['event_id']}", timeout=CALL_SECONDS) as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line[len("event: ") :]
            elif line.startswith("data: ") and kind in ("complete", "error"):
                payload = json.loads(line[len("data: ") :])
    if kind == "error":
        return kind, payload.get("error") if isinstance(payload, dict) else payload
    return kind, payload


def assert_answer(endpoint: dict, api_name: str, values: list, kind: str, payload) -> None:
    where = (api_name, values if len(repr(values)) < 2000 else repr(values)[:2000])
    assert kind in ("complete", "error"), (where, kind, payload)
    if kind == "complete":
        assert isinstance(payload, list) and len(payload) == len(endpoint["returns"]), (where, payload)
    else:
        assert_specific(payload, where)


def upload(app_url: str, name: str, content: bytes) -> dict:
    """A file as the page uploads it (/gradio_api/upload): the value a file input takes."""
    response = httpx.post(f"{app_url.rstrip('/')}/gradio_api/upload", files=[("files", (name, content))], timeout=60)
    return {"path": response.json()[0], "orig_name": name, "meta": META}


# --- valid files -------------------------------------------------------------------------------------------------


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def small_photo() -> bytes:
    rng = np.random.default_rng(0)
    return png(Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)))


def short_tune() -> bytes:
    return midi_bytes([Note(0.5 * i, 0.45, pitch) for i, pitch in enumerate((67, 69, 71, 72, 74))], program=40)


def hum(seconds: float = 1.5, rate: int = 16_000) -> bytes:
    """A sung-like tone (a fundamental and three harmonics, two notes): something the re-voicer can follow."""
    t = np.arange(int(seconds * rate)) / rate
    f0 = np.where(t < seconds / 2, 220.0, 247.0)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    audio = sum(np.sin(k * phase) / k for k in range(1, 5)) * 0.2 * np.minimum(1, 20 * t)
    buffer = io.BytesIO()
    soundfile.write(buffer, audio.astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


VALID_FILES = {"image": ("photo.png", small_photo), "file": ("tune.mid", short_tune), "audio": ("hum.wav", hum)}


# --- the API, read from the running app --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def endpoints(client) -> dict[str, dict]:
    """Every named endpoint of the running app: {name without "/": view_api's record (parameters, returns)}."""
    api = client.view_api(return_format="dict", print_info=False)
    named = {name.lstrip("/"): endpoint for name, endpoint in api["named_endpoints"].items()}
    assert {"generate_text", "compose", "play_abc", "play_midi", "revoice", "upscale", "stylize"} <= set(named)
    return named


@pytest.fixture(scope="module")
def valid_uploads(app_url) -> dict[str, dict]:
    return {kind: upload(app_url, name, make()) for kind, (name, make) in VALID_FILES.items()}


def file_kind(parameter: dict) -> str | None:
    """The kind of file a parameter takes ("image", "audio", "file"...), or None."""
    if parameter["component"] in FILE_COMPONENTS:
        return FILE_COMPONENTS[parameter["component"]]
    properties = parameter["type"].get("properties", {}) if isinstance(parameter["type"], dict) else {}
    return "file" if "path" in properties else None


def slider_range(parameter: dict) -> tuple[float, float] | None:
    found = re.search(r"between (-?[\d.]+) and (-?[\d.]+)", str(parameter["type"].get("description", "")))
    return (float(found.group(1)), float(found.group(2))) if found else None


def cheap_value(parameter: dict, uploads: dict):
    """A valid value that keeps the run short: a slider's minimum (fewest tokens, steps, bars, faces), a choice's
    default, a small upload."""
    kind, ptype, default = file_kind(parameter), parameter["type"], parameter.get("parameter_default")
    if kind:
        return uploads.get(kind, uploads["file"])
    if "enum" in ptype:
        return default if default in ptype["enum"] else ptype["enum"][0]
    if parameter["component"] == "Slider" and slider_range(parameter):
        low = slider_range(parameter)[0]
        return int(low) if low == int(low) else low
    if ptype.get("type") == "boolean":
        return bool(default)
    if ptype.get("type") in ("integer", "number"):
        return default if isinstance(default, int | float) else 0
    if ptype.get("type") == "string":
        return default if isinstance(default, str) and default else VALID_TEXTS[1]
    return default


# --- strategies --------------------------------------------------------------------------------------------------

surrogates = st.characters(categories=["Cs"])
any_text = st.text(st.one_of(st.characters(), surrogates), max_size=40)
# No subnormal floats: the app, launched in this process, flushes them to zero (gen_app.loading), and Hypothesis
# refuses to draw them then.
hostile_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**400, -(10**400), 2**63, 2**64 + 1, -1, 0, MAX_SEED + 1]),
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=False),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 0.5]),
    any_text,
    st.text(surrogates, min_size=1, max_size=3).map(lambda s: s + "abc"),
    st.sampled_from(["", " ", "\x00", "x" * 100_000, "NaN", "1e400", "-1", "../../etc/passwd", "random", "auto"]),
)
hostile_values = st.recursive(
    hostile_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6,
)


def valid_values(parameter: dict, uploads: dict) -> st.SearchStrategy:
    """Values of the parameter's kind; numbers up to a slider's default in the bounded run (its maximum in a long
    run), so the models' runs stay short."""
    kind, ptype, default = file_kind(parameter), parameter["type"], parameter.get("parameter_default")
    if kind:
        return st.sampled_from([uploads.get(kind, uploads["file"]), None])
    if "enum" in ptype:
        return st.sampled_from(ptype["enum"])
    bounds = slider_range(parameter)
    if parameter["component"] == "Slider" and bounds:
        low, high = bounds
        if not LONG_RUN and isinstance(default, int | float) and low <= default <= high:
            high = default
        numbers = st.floats(low, high, allow_subnormal=False)
        if math.ceil(low) <= math.floor(high):
            numbers = st.one_of(st.integers(math.ceil(low), math.floor(high)), numbers)
        return numbers
    if ptype.get("type") == "boolean":
        return st.booleans()
    if ptype.get("type") == "integer":
        return st.integers(0, MAX_SEED)
    if ptype.get("type") == "number":
        return st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=False)
    if ptype.get("type") == "string":
        return st.one_of(st.sampled_from(VALID_TEXTS), st.text(max_size=200))
    return st.just(default)


def file_payloads() -> st.SearchStrategy:
    """Values a file input may be sent that are not uploads of this session."""
    paths = st.sampled_from(["/etc/passwd", "", "../../etc/passwd", "/tmp", "http://127.0.0.1:9/x.png"])
    return st.one_of(
        st.builds(lambda p: {"path": p}, paths),
        st.builds(lambda p: {"path": p, "meta": META}, paths),
        st.builds(lambda u: {"url": u}, st.sampled_from(["data:image/png;base64,AAAA", "data:,", "data:x"])),
    )


@st.composite
def requests(draw, parameters: list[dict], uploads: dict) -> list:
    """One request's values: cheap valid ones with one to three replaced, and sometimes too few or too many."""
    values = [cheap_value(p, uploads) for p in parameters]
    if parameters:
        chosen = draw(st.lists(st.integers(0, len(parameters) - 1), min_size=1, max_size=3, unique=True))
        for i in chosen:
            p = parameters[i]
            options = [valid_values(p, uploads), hostile_values, st.lists(valid_values(p, uploads), max_size=2)]
            if file_kind(p):
                options.append(file_payloads())
            values[i] = draw(st.one_of(options))
    shape = draw(st.sampled_from(["exact"] * 6 + ["short", "long"]))
    if shape == "short" and values:
        values = values[: draw(st.integers(0, len(values) - 1))]
    elif shape == "long":
        values = values + draw(st.lists(hostile_values, min_size=1, max_size=2))
    return values


# --- the tests ---------------------------------------------------------------------------------------------------


def fuzzer(app_url: str, name: str, endpoint: dict, uploads: dict):
    """A Hypothesis test of one endpoint: any request gets a valid output or a specific message."""

    @settings(
        max_examples=EXAMPLES_PER_ENDPOINT,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(values=requests(endpoint["parameters"], uploads))
    def fuzz(values):
        assert_answer(endpoint, name, values, *call(app_url, name, values))

    return fuzz


def test_every_endpoint_answers_any_values(app_url, endpoints, valid_uploads):
    failures = []
    for name, endpoint in endpoints.items():
        try:
            fuzzer(app_url, name, endpoint, valid_uploads)()
        except AssertionError as error:  # go on with the other endpoints; report them all at the end
            notes = "\n".join(getattr(error, "__notes__", []))
            failures.append(f"/{name}: {error}\n{notes}")
        # The endpoint still serves: its cheap valid request gives a result.
        values = [cheap_value(p, valid_uploads) for p in endpoint["parameters"]]
        kind, payload = call(app_url, name, values)
        assert kind == "complete", (name, values, payload)
    assert not failures, "\n\n".join(failures)


# The escapes the issue found, each now a message that names the input (raw HTTP, as the issue sent them).
VOICE = ["violin", "(none)", 0.5, 0.0]
ISSUE_CASES = {
    "note longer than 180 s": ("play_abc", ["M:4/4\nL:1/8\nK:C\nC9999|", 120, *VOICE], "ABC tune's first note lasts"),
    "seed 1e400 (text)": ("generate_text", ["ROMEO:", 2, 0.8, 0, 1.0, 1.0, 10**400], "Seed must be from 0 to"),
    "seed 1e400 (compose)": ("compose", [10**400, 0.8, 4, "(any)", "(any)", 120, *VOICE], "Seed must be from 0 to"),
    "list for a single choice": ("revoice", [None, ["1"], *VOICE], '"Octave shift" takes one choice'),
    "lone surrogate": ("generate_text", ["\udc80abc", 2, 0.8, 0, 1.0, 1.0, 1], '"Prompt" holds a character that is'),
    "NaN seed": ("generate_text", ["ROMEO:", 2, 0.8, 0, 1.0, 1.0, math.nan], '"Seed" must be a finite number'),
    "text seed": ("compose", ["x", 0.8, 4, "(any)", "(any)", 120, *VOICE], '"Seed" must be a number'),
    "list seed": ("generate_text", ["ROMEO:", 2, 0.8, 0, 1.0, 1.0, [1]], '"Seed" must be a number'),
    "missing values": ("generate_text", ["ROMEO:"], r"sent 1 of the 7 input values it needs \(the first missing"),
}


@pytest.mark.parametrize("case", ISSUE_CASES)
def test_the_issues_escapes_get_clear_messages(app_url, case):
    api_name, values, expected = ISSUE_CASES[case]
    kind, message = call(app_url, api_name, values)
    assert kind == "error" and re.search(expected, message), (case, kind, message)
    assert_specific(message, case)


# --- hostile files -----------------------------------------------------------------------------------------------


def png_of_zeros(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of `width` x `height` black pixels: a few kB on disk, width*height pixels once decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\0" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def noise_image(format: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (256, 256, 3), dtype=np.uint8)).save(buffer, format)
    return buffer.getvalue()


def wav(audio: np.ndarray, rate: int, subtype: str) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, audio, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


def raw_midi(notes: int) -> bytes:
    """A one-track MIDI file of `notes` short notes, 8 bytes each (written directly: mido takes seconds for this)."""
    events = b"".join(bytes((0, 0x90, 60 + i % 24, 90, 10, 0x80, 60 + i % 24, 0)) for i in range(notes))
    track = events + b"\x00\xff\x2f\x00"  # end of track
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", len(track)) + track


def ten_minutes() -> bytes:
    rate = 8_000
    t = np.arange(600 * rate) / rate
    return wav((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, "PCM_16")


def nan_samples() -> bytes:
    audio = (0.3 * np.sin(2 * np.pi * 220 * np.arange(16_000) / 16_000)).astype(np.float32)
    audio[4_000:4_100] = np.nan
    return wav(audio, 16_000, "FLOAT")


# name: (builder, the kind of input it pretends to be for, what that input must answer: a pattern, or None for a
# result). Every file also goes into every other file input, where it must get a specific message or a result.
HOSTILE_FILES = {
    "truncated.png": (lambda: noise_image("PNG")[:30_000], "image", "damaged or incomplete"),
    "truncated.jpg": (lambda: noise_image("JPEG")[:6_000], "image", "damaged or incomplete|not an image"),
    "empty.png": (lambda: b"", "image", "not an image|could not be read|empty"),
    "bomb.png": (lambda: png_of_zeros(20_000, 20_000), "image", "far too large"),  # 400 megapixels
    "hundred_megapixels.png": (lambda: png_of_zeros(10_000, 10_000), "image", "megapixels"),
    "text.png": (lambda: b"This is not a picture.\n" * 40, "image", "not an image"),
    "many_notes.mid": (
        lambda: midi_bytes([Note(0.02 * i, 0.018, 48 + i % 36) for i in range(20_000)], program=0),
        "file",
        None,  # 400 s, 20,000 notes: the first 3,000 (60 s) are played, with a notice
    ),
    "long_note.mid": (lambda: midi_bytes([Note(0.0, 1_000.0, 60)], program=0), "file", "first note lasts"),
    "oversized.mid": (lambda: raw_midi(260_000), "file", "limit is 2 MB"),
    "empty.mid": (lambda: b"", "file", "not a readable MIDI file"),
    "ten_minutes.wav": (ten_minutes, "audio", "limit is 30 s"),
    "nan.wav": (nan_samples, "audio", "NaN"),
    "empty.wav": (lambda: b"", "audio", "not audio|could not|empty|too short|at least"),
}


# Endpoints whose file input takes any kind of file (the check tab): each hostile file gets a result or a specific
# message there, not necessarily the one of the input it was made for.
ANY_FILE_ENDPOINTS = {"check_file"}


@pytest.fixture(scope="module")
def file_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz-files")
    for name, (make, _, _) in HOSTILE_FILES.items():
        (folder / name).write_bytes(make())
    for name, make in VALID_FILES.values():
        (folder / name).write_bytes(make())
    return folder


@pytest.mark.parametrize("name", sorted(HOSTILE_FILES))
def test_hostile_files(client, app_url, endpoints, file_folder, name):
    """The file into every file input of every endpoint (the other values cheap and valid, the other file inputs
    given a valid upload), through gradio_client as a program would send it."""
    _, meant_for, expected = HOSTILE_FILES[name]
    slots = [(api, i) for api, e in endpoints.items() for i, p in enumerate(e["parameters"]) if file_kind(p)]
    assert {file_kind(endpoints[api]["parameters"][i]) for api, i in slots} >= {"image", "audio", "file"}
    for api, slot in slots:
        parameters = endpoints[api]["parameters"]
        args = []
        for i, p in enumerate(parameters):
            if i == slot:
                args.append(handle_file(str(file_folder / name)))
            elif file_kind(p):
                args.append(handle_file(str(file_folder / VALID_FILES.get(file_kind(p), VALID_FILES["file"])[0])))
            else:
                args.append(cheap_value(p, {}))
        where = (name, api, parameters[slot]["label"])
        try:
            result = client.submit(*args, api_name=f"/{api}").result(timeout=CALL_SECONDS)
        except AppError as error:
            assert_specific(str(error), where)
            if file_kind(parameters[slot]) == meant_for and api not in ANY_FILE_ENDPOINTS:
                assert expected is not None and re.search(expected, str(error)), (where, str(error))
        else:
            outputs = result if isinstance(result, tuple) else (result,)
            assert len(outputs) == len(endpoints[api]["returns"]), (where, result)
            if file_kind(parameters[slot]) == meant_for and api not in ANY_FILE_ENDPOINTS:
                assert expected is None, (where, "expected an error matching", expected)
    # Still serving: a valid upload gets a result.
    api, slot = next((a, s) for a, s in slots if file_kind(endpoints[a]["parameters"][s]) == "image")
    parameters = endpoints[api]["parameters"]
    args = [handle_file(str(file_folder / "photo.png")) if file_kind(p) else cheap_value(p, {}) for p in parameters]
    client.predict(*args, api_name=f"/{api}")
