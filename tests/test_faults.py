"""Faults at start-up: each tab loads on its own (a damaged or missing checkpoint switches off its tab, which says what
failed and how to fix it, while the other tabs serve), and a dead or slow Hub costs start-up a few seconds at most,
however many tasks point at it (one shared probe, then the local checkpoints; downloads retried in the background).

The damaged checkpoints are copies (links to checkpoints/, with the damaged files written anew), pointed at with
GEN_APP_CHECKPOINTS or by patching gen_app.loading.CHECKPOINTS: the real checkpoints/ are never touched."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from gradio_client import Client
from hub_server import HubServer
from huggingface_hub import constants

from gen_app import loading, metrics
from gen_app.loading import CHECKPOINTS, RETRAIN, ModelLoadError, checkpoint_dir, load_model

ROOT = Path(__file__).resolve().parent.parent
TASKS = sorted(p.name for p in CHECKPOINTS.iterdir() if (p / "config.json").is_file())
HUB_BOUND = 10.0  # seconds the Hub may add to start-up, all tasks together, even on a slow, busy machine

Damage = Callable[[Path], None]


def rewrite(folder: Path, name: str, data: bytes) -> None:
    """Replace the link `folder/name` with a file of its own (writing through the link would damage checkpoints/)."""
    (folder / name).unlink()
    (folder / name).write_bytes(data)


def truncated(name: str) -> Damage:
    def damage(folder: Path) -> None:
        data = (folder / name).read_bytes()
        rewrite(folder, name, data[: len(data) // 2])

    return damage


def removed(name: str) -> Damage:
    return lambda folder: (folder / name).unlink()


def replaced(name: str, text: str) -> Damage:
    return lambda folder: rewrite(folder, name, text.encode())


def config_with(**changes) -> Damage:
    def damage(folder: Path) -> None:
        config = json.loads((folder / "config.json").read_text()) | changes
        rewrite(folder, "config.json", json.dumps(config).encode())

    return damage


def damaged_copy(root: Path, damage: dict[str, Damage]) -> Path:
    """A checkpoints folder: the damaged tasks' folders hold links to the real files plus their damaged ones; every
    other task is a link to its real folder."""
    root.mkdir(parents=True)
    for real in sorted(CHECKPOINTS.iterdir()):
        if not real.is_dir():
            continue
        if real.name not in damage:
            (root / real.name).symlink_to(real, target_is_directory=True)
            continue
        folder = root / real.name
        folder.mkdir()
        for file in real.iterdir():
            (folder / file.name).symlink_to(file)
        damage[real.name](folder)
    return root


@pytest.fixture(autouse=True)
def app_state_restored():
    """In-process loads here record failures and fallbacks in the process-wide load states that /metrics reports;
    put back what the session's app recorded, so later tests see that app's state, not these experiments'."""
    load_states, tab_states = dict(loading.LOAD_STATES), dict(metrics.TAB_STATES)
    yield
    loading.LOAD_STATES.clear()
    loading.LOAD_STATES.update(load_states)
    metrics.TAB_STATES.clear()
    metrics.TAB_STATES.update(tab_states)


@pytest.fixture
def no_hub_retries(monkeypatch):
    """Start-up state of its own, and no background retry threads left behind."""
    loading.reset_hub()
    monkeypatch.setattr(loading, "_retry_later", lambda *args: None)
    yield
    loading.reset_hub()


# ---- one checkpoint at a time: the error names the file, what is wrong and how to fix it ----------------------------


def model_class(task: str):
    from gen_app.audio.synth import NeuralSynth
    from gen_app.gpt import GPT
    from gen_app.sr.model import SRNet
    from gen_app.style.model import StyleNet

    return {"sr-x4": SRNet, "sr-x2": SRNet, "style": StyleNet, "text": GPT, "melody": GPT, "synth": NeuralSynth}[task]


FAULTS = {
    "truncated weights": (
        "sr-x4",
        "model.safetensors",
        truncated("model.safetensors"),
        "is damaged (incomplete metadata",
    ),
    "missing config": ("text", "config.json", removed("config.json"), "is missing"),
    "config of another shape": ("style", "model.safetensors", config_with(width=40), "does not match"),
    "missing weights": ("sr-x2", "model.safetensors", removed("model.safetensors"), "is missing"),
    "config not JSON": ("synth", "config.json", replaced("config.json", '{"width": 6'), "is damaged"),
    "config value of the wrong type": ("melody", "config.json", config_with(n_embd="wide"), "does not fit the model"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_damaged_checkpoint_is_named_with_its_fix(fault, tmp_path, monkeypatch, no_hub_retries):
    task, file, damage, problem = FAULTS[fault]
    root = damaged_copy(tmp_path / "checkpoints", {task: damage})
    monkeypatch.setattr(loading, "CHECKPOINTS", root)
    extra = ("tokenizer.json",) if task in ("text", "melody") else ()
    with pytest.raises(ModelLoadError) as caught:
        load_model(model_class(task), task, extra_files=extra)
    message = str(caught.value)
    assert message.startswith(f"{root / task / file} {problem}"), message
    assert f"git checkout -- checkpoints/{task}" in message and RETRAIN[task] in message
    assert "size mismatch" not in message or fault == "config of another shape"
    assert loading.LOAD_STATES[task].state == "failed"


def test_a_wrong_shape_says_which_tensor(tmp_path, monkeypatch, no_hub_retries):
    root = damaged_copy(tmp_path / "checkpoints", {"style": config_with(width=40)})
    monkeypatch.setattr(loading, "CHECKPOINTS", root)
    with pytest.raises(ModelLoadError, match=r"config.json \(size mismatch for \w+"):
        load_model(model_class("style"), "style")


def test_a_damaged_tokenizer_is_named(tmp_path, monkeypatch, no_hub_retries):
    from gen_app.sampling import LanguageModel

    root = damaged_copy(tmp_path / "checkpoints", {"melody": replaced("tokenizer.json", "not json")})
    monkeypatch.setattr(loading, "CHECKPOINTS", root)
    with pytest.raises(ModelLoadError, match=re.escape(f"{root / 'melody' / 'tokenizer.json'} is damaged")):
        LanguageModel.load("melody")


def test_damaged_hub_weights_fall_back_to_the_local_checkpoint(tmp_path, monkeypatch, no_hub_retries):
    hub_copy = damaged_copy(tmp_path / "hub", {"sr-x2": truncated("model.safetensors")}) / "sr-x2"
    monkeypatch.setenv("GEN_APP_SR_X2_REPO", "someone/sr-x2")
    monkeypatch.setattr(loading, "checkpoint_dir", lambda task, extra=(): (hub_copy, "hf.co/someone/sr-x2@main"))
    _, origin, folder = load_model(model_class("sr-x2"), "sr-x2")
    assert folder == CHECKPOINTS / "sr-x2" and origin == "checkpoints/sr-x2 (Hub copy damaged)"
    assert loading.LOAD_STATES["sr-x2"].state == "fallback"


# ---- the whole app, started as `python app.py` -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(env: dict[str, str], log_file: Path, timeout: float = 300):
    """`python app.py` with `env`, until its page answers 200; yields (url, seconds to the page)."""
    port = free_port()
    full_env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1", **env}
    full_env |= {"GEN_APP_DEVICE": "cpu", "GRADIO_ANALYTICS_ENABLED": "False"}
    # Its own cache folder: an app deletes its cache files when it stops (conftest.py says why that matters).
    full_env["GRADIO_TEMP_DIR"] = str(log_file.parent / f"gradio-{port}")
    url = f"http://127.0.0.1:{port}/"
    with open(log_file, "w") as log:
        started = time.perf_counter()
        app = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
        try:
            while True:
                assert app.poll() is None, f"the app exited ({app.returncode}):\n{log_file.read_text()[-3000:]}"
                assert time.perf_counter() - started < timeout, f"no page after {timeout} s"
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url, timeout=5).status_code == 200:
                        break
                time.sleep(0.2)
            yield url, time.perf_counter() - started
            assert app.poll() is None, "the app stopped while serving"
        finally:
            app.terminate()
            try:
                app.wait(timeout=30)
            except subprocess.TimeoutExpired:
                app.kill()


def scrape(url: str) -> dict[str, float]:
    text = httpx.get(url + "metrics", timeout=30).text
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\S+) (\S+)$", text, re.M)}


def serves_faces_and_audio(url: str) -> None:
    client = Client(url, verbose=False)
    gallery, seed = client.predict(7, 2, 0.7, api_name="/generate_faces")
    assert seed == 7 and len(gallery) == 2
    audio, *_ = client.predict(
        "M:4/4\nL:1/4\nK:C\nC D E F |]\n", 120, "violin", "(none)", 0.5, 0.0, api_name="/play_abc"
    )
    assert Path(audio).stat().st_size > 1000


def test_the_app_starts_and_serves_with_damaged_checkpoints(tmp_path):
    """A truncated safetensors file (sr-x4), a missing config.json (text) and a config of another shape (style): the
    app starts, those three tabs say what failed and how to fix it, and the other tabs answer."""
    damage = {"sr-x4": truncated("model.safetensors"), "text": removed("config.json"), "style": config_with(width=40)}
    root = damaged_copy(tmp_path / "checkpoints", damage)
    log_file = tmp_path / "app.log"
    with running_app({"GEN_APP_CHECKPOINTS": str(root)}, log_file) as (url, _):
        page = json.dumps(httpx.get(url + "config", timeout=30).json(), ensure_ascii=False)
        expected = {
            "sr": f"`{root / 'sr-x4' / 'model.safetensors'}` is damaged (incomplete metadata",
            "text": f"`{root / 'text' / 'config.json'}` is missing",
            "style": f"`{root / 'style' / 'model.safetensors'}` does not match {root / 'style' / 'config.json'}",
        }
        for tab, what in expected.items():
            assert what in page, tab
        for task in ("sr-x4", "text", "style"):
            assert f"git checkout -- checkpoints/{task}" in page and RETRAIN[task] in page
        assert page.count("is not available") == 3  # the check tab serves without the text model: images, sound
        serves_faces_and_audio(url)
        metrics = scrape(url)
    for tab, up in {"faces": 1, "style": 0, "sr": 0, "text": 0, "audio": 1, "check": 1}.items():
        assert metrics[f'gen_app_tab_up{{tab="{tab}"}}'] == up, tab
    for task, loaded in {"sr-x4": 0, "style": 0, "text": 0, "faces": 1, "synth": 1, "melody": 1, "sr-x2": 1}.items():
        assert metrics[f'gen_app_model_loaded{{task="{task}"}}'] == loaded, task
    log = log_file.read_text()
    assert all(f"the {tab} tab could not start" in log for tab in ("sr", "text", "style"))


def hub_repos(name: str) -> dict[str, str]:
    return {f"GEN_APP_{task.upper().replace('-', '_')}_REPO": f"gen-app/{task}-{name}" for task in TASKS}


def test_the_app_starts_at_once_with_a_dead_hub_for_every_task(tmp_path):
    with HubServer({}) as hub:
        endpoint = hub.url  # closed once the server stops
    env = {"HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf"), **hub_repos("dead")}
    log_file = tmp_path / "app.log"
    with running_app(env, log_file) as (url, seconds):
        serves_faces_and_audio(url)
        metrics = scrape(url)
    log = log_file.read_text()
    spent = float(re.search(r"start-up spent ([\d.]+) s on the Hub", log).group(1))
    print(f"page after {seconds:.1f} s; the Hub took {spent:.2f} s of it")
    assert spent < HUB_BOUND
    assert log.count("is unreachable") == 1, "one probe for every task"
    assert "Retrying in" not in log  # no client retries with back-off at start-up
    for task in TASKS:
        assert f"loaded {task} from checkpoints/{task} (Hub gen-app/{task}-dead unreachable)" in log
        assert metrics[f'gen_app_model_loaded{{task="{task}"}}'] == 0  # a fallback
    assert all(metrics[f'gen_app_tab_up{{tab="{tab}"}}'] == 1 for tab in ("faces", "style", "sr", "text", "audio"))


# ---- the Hub's time budget, in process -------------------------------------------------------------------------------


def all_tasks_from(monkeypatch, name: str) -> None:
    for variable, repo in hub_repos(name).items():
        monkeypatch.setenv(variable, repo)


def timed_checkpoint_dirs() -> tuple[dict[str, str], float]:
    started = time.perf_counter()
    origins = {task: checkpoint_dir(task)[1] for task in TASKS}
    return origins, time.perf_counter() - started


def test_a_closed_port_is_probed_once_for_every_task(monkeypatch, no_hub_retries):
    with HubServer({}) as hub:
        endpoint = hub.url
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    all_tasks_from(monkeypatch, "dead")
    probes = []
    probe = loading.probe_hub
    monkeypatch.setattr(loading, "probe_hub", lambda: probes.append(1) or probe())
    origins, seconds = timed_checkpoint_dirs()
    assert len(probes) == 1 and seconds < HUB_BOUND and loading.hub_seconds() < HUB_BOUND
    assert origins == {task: f"checkpoints/{task} (Hub gen-app/{task}-dead unreachable)" for task in TASKS}


def test_a_hub_that_never_answers_costs_one_probe(monkeypatch, no_hub_retries):
    """A server that takes the connection and never answers (a hung Hub): the probe's timeout, once."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)  # connections complete in the kernel's backlog; nobody ever reads or answers them
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        all_tasks_from(monkeypatch, "silent")
        origins, seconds = timed_checkpoint_dirs()
    assert seconds < loading.PROBE_SECONDS + 3 and loading.hub_seconds() < loading.PROBE_SECONDS + 1
    assert all(origin.endswith("unreachable)") for origin in origins.values())


def test_slow_downloads_share_one_budget(monkeypatch, no_hub_retries):
    """The Hub answers the probe but sends nothing: start-up waits GEN_APP_HUB_WAIT seconds in all, not per task."""
    release = threading.Event()
    monkeypatch.setattr(loading, "probe_hub", lambda: loading.HubProbe(True, False, "", 0.01))
    monkeypatch.setattr(loading, "download", lambda source, files: release.wait(60) and None)
    monkeypatch.setenv("GEN_APP_HUB_WAIT", "1")
    all_tasks_from(monkeypatch, "slow")
    try:
        origins, seconds = timed_checkpoint_dirs()
    finally:
        release.set()
    assert seconds < 4 and loading.hub_seconds() < 2
    assert origins == {task: f"checkpoints/{task} (Hub gen-app/{task}-slow too slow)" for task in TASKS}


def test_downloads_are_retried_in_the_background(monkeypatch):
    """After a failed probe, a background thread probes again and fetches every pending repo into the Hub cache."""
    loading.reset_hub()
    answers = iter([False, False, True])  # start-up's probe, a first retry, a second one
    monkeypatch.setattr(loading, "probe_hub", lambda: loading.HubProbe(next(answers), False, "refused", 0.0))
    fetched = []
    monkeypatch.setattr(loading, "download", lambda source, files: fetched.append((source.repo_id, files)))
    monkeypatch.setattr(loading, "RETRY_DELAYS", (0.2, 0.2, 0.2))
    monkeypatch.setenv("GEN_APP_TEXT_REPO", "gen-app/text-later")
    monkeypatch.setenv("GEN_APP_STYLE_REPO", "gen-app/style-later")
    assert checkpoint_dir("text", ("tokenizer.json",))[1] == "checkpoints/text (Hub gen-app/text-later unreachable)"
    assert checkpoint_dir("style")[1] == "checkpoints/style (Hub gen-app/style-later unreachable)"
    loading._retry_thread.join(timeout=10)
    assert sorted(fetched) == [
        ("gen-app/style-later", ("config.json", "model.safetensors")),
        ("gen-app/text-later", ("config.json", "model.safetensors", "tokenizer.json")),
    ]
    assert not loading._pending
    loading.reset_hub()


def test_offline_mode_never_touches_the_network(monkeypatch, no_hub_retries):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(loading, "get_session", lambda: pytest.fail("HF_HUB_OFFLINE=1 sent a request"))
    assert loading.hub_probe().offline and loading.hub_probe().reachable
