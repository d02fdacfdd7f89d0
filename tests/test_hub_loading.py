"""Loading by Hub repo id, through the real huggingface_hub download code, against a loopback Hub."""

import os
import subprocess
import sys

import pytest
from hub_server import HubServer

from gen_app.loading import CHECKPOINTS, HubSource, hub_source, shown_path

REPO = "gen-app/faces-test"
LOAD = (
    "import logging; logging.basicConfig(level=logging.INFO);"
    "from gen_app.faces.pipeline import FacePipeline;"
    "pipe = FacePipeline.load(); print('ORIGIN', pipe.origin);"
    "print('FACES', len(pipe.generate(seed=1, count=2).images))"
)


def load_in_subprocess(env: dict) -> subprocess.CompletedProcess:
    # HF_ENDPOINT and HF_HUB_OFFLINE are read when huggingface_hub is imported: use a fresh interpreter.
    full_env = {**os.environ, "GEN_APP_FACES_REPO": REPO, **env}
    return subprocess.run([sys.executable, "-c", LOAD], env=full_env, capture_output=True, text=True, timeout=180)


@pytest.fixture
def hf_home(tmp_path):
    return str(tmp_path / "hf_home")


def test_repo_id_downloads_caches_and_then_works_offline(hf_home):
    with HubServer({REPO: CHECKPOINTS / "faces"}) as hub:
        online = load_in_subprocess({"HF_ENDPOINT": hub.url, "HF_HOME": hf_home})
        assert online.returncode == 0, online.stderr
        assert f"ORIGIN hf.co/{REPO}@main" in online.stdout and "FACES 2" in online.stdout
        assert any(r.startswith(f"GET /{REPO}/resolve/main/model.safetensors") for r in hub.requests)
    cached = os.listdir(os.path.join(hf_home, "hub"))
    assert any("faces-test" in name for name in cached)
    # Server gone: HF_HUB_OFFLINE=1 serves the same repo from the cache.
    offline = load_in_subprocess({"HF_ENDPOINT": hub.url, "HF_HOME": hf_home, "HF_HUB_OFFLINE": "1"})
    assert offline.returncode == 0, offline.stderr
    assert f"ORIGIN hf.co/{REPO}@main" in offline.stdout


def test_unreachable_hub_falls_back_to_checkpoints_with_a_warning(hf_home):
    env = {"HF_HOME": hf_home, "HF_HUB_OFFLINE": "1"}  # offline with an empty cache: the Hub is out of reach
    result = load_in_subprocess(env)
    assert result.returncode == 0, result.stderr
    assert "ORIGIN checkpoints/faces (Hub gen-app/faces-test unreachable)" in result.stdout
    assert "WARNING" in result.stderr and "using checkpoints/faces" in result.stderr


def test_server_down_falls_back_without_retries(hf_home):
    """One probe, refused, and the local checkpoint at once: no client retries with back-off (they took 30 s)."""
    with HubServer({}) as hub:
        url = hub.url  # the port is closed once the server stops
    result = load_in_subprocess({"HF_ENDPOINT": url, "HF_HOME": hf_home})
    assert result.returncode == 0, result.stderr
    assert "unreachable" in result.stdout and "using checkpoints/faces" in result.stderr
    assert "Retrying in" not in result.stderr


def test_repo_configuration(monkeypatch):
    monkeypatch.delenv("GEN_APP_FACES_REPO", raising=False)
    assert hub_source("faces") is None  # the shipped default: embedded checkpoint
    monkeypatch.setenv("GEN_APP_FACES_REPO", "someone/faces")
    assert hub_source("faces") == HubSource("someone/faces")
    monkeypatch.setenv("GEN_APP_FACES_REPO", "")
    assert hub_source("faces") is None


def test_text_model_and_its_tokenizer_come_from_the_hub(hf_home):
    """A model with an extra file (tokenizer.json), and a task id with a dash in its variable name."""
    load = (
        "from gen_app.sampling import SamplingSettings; from gen_app.text.pipeline import TextPipeline;"
        "from gen_app.sr.pipeline import SRPipeline;"
        "pipe = TextPipeline.load(); print('TEXT', pipe.origin, len(pipe.generate('A', SamplingSettings(5))) > 0);"
        "print('SR', SRPipeline.load().origins[4])"
    )
    env = {**os.environ, "GEN_APP_TEXT_REPO": "gen-app/text-test", "GEN_APP_SR_X4_REPO": "gen-app/sr-test"}
    repos = {"gen-app/text-test": CHECKPOINTS / "text", "gen-app/sr-test": CHECKPOINTS / "sr-x4"}
    with HubServer(repos) as hub:
        env |= {"HF_ENDPOINT": hub.url, "HF_HOME": hf_home}
        result = subprocess.run([sys.executable, "-c", load], env=env, capture_output=True, text=True, timeout=180)
        assert any(r.startswith("GET /gen-app/text-test/resolve/main/tokenizer.json") for r in hub.requests)
    assert result.returncode == 0, result.stderr
    assert "TEXT hf.co/gen-app/text-test@main True" in result.stdout
    assert "SR hf.co/gen-app/sr-test@main" in result.stdout


def test_real_photo_sr_model_comes_from_the_hub(hf_home):
    """sr-x4-real (the "Real photo" type) by Hub repo id, with its card; the clean models stay local."""
    load = (
        "from gen_app.sr.pipeline import SRPipeline; from PIL import Image; p = SRPipeline.load();"
        "print('REAL', p.real_origin, (p.real_folder / 'README.md').is_file());"
        "print('CLEAN', p.origins[4]);"
        "print('PARAMS', p.upscale(Image.new('RGB', (12, 8)), 4, photo_type='real').params['model'])"
    )
    env = {**os.environ, "GEN_APP_SR_X4_REAL_REPO": "gen-app/sr-real-test"}
    with HubServer({"gen-app/sr-real-test": CHECKPOINTS / "sr-x4-real"}) as hub:
        env |= {"HF_ENDPOINT": hub.url, "HF_HOME": hf_home}
        result = subprocess.run([sys.executable, "-c", load], env=env, capture_output=True, text=True, timeout=180)
        assert any(r.startswith("GET /gen-app/sr-real-test/resolve/main/model.safetensors") for r in hub.requests)
    assert result.returncode == 0, result.stderr
    assert "REAL hf.co/gen-app/sr-real-test@main True" in result.stdout
    assert f"CLEAN {shown_path(CHECKPOINTS / 'sr-x4')}\n" in result.stdout
    assert "PARAMS gen_app sr-x4-real" in result.stdout


def test_style_model_comes_from_the_hub(hf_home):
    load = "from gen_app.style.pipeline import StylePipeline; print('STYLE', StylePipeline.load().origin)"
    env = {**os.environ, "GEN_APP_STYLE_REPO": "gen-app/style-test"}
    with HubServer({"gen-app/style-test": CHECKPOINTS / "style"}) as hub:
        env |= {"HF_ENDPOINT": hub.url, "HF_HOME": hf_home}
        result = subprocess.run([sys.executable, "-c", load], env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "STYLE hf.co/gen-app/style-test@main" in result.stdout


def test_audio_models_come_from_the_hub(hf_home):
    load = (
        "from gen_app.audio.pipeline import AudioPipeline; p = AudioPipeline.load();"
        "print('AUDIO', p.origins['synth'], p.origins['melody'], len(p.compose(seed=1, bars=4)) > 10)"
    )
    env = {**os.environ, "GEN_APP_SYNTH_REPO": "gen-app/synth-test", "GEN_APP_MELODY_REPO": "gen-app/melody-test"}
    repos = {"gen-app/synth-test": CHECKPOINTS / "synth", "gen-app/melody-test": CHECKPOINTS / "melody"}
    with HubServer(repos) as hub:
        env |= {"HF_ENDPOINT": hub.url, "HF_HOME": str(hf_home)}
        result = subprocess.run([sys.executable, "-c", load], env=env, capture_output=True, text=True, timeout=180)
        assert any(r.startswith("GET /gen-app/melody-test/resolve/main/tokenizer.json") for r in hub.requests)
    assert result.returncode == 0, result.stderr
    assert "AUDIO hf.co/gen-app/synth-test@main hf.co/gen-app/melody-test@main True" in result.stdout


HUB_CARD = """---
license: apache-2.0
---
# A text model published on the Hub

## Summary
HUB-CARD-LINE: the weights of this repo, described by the card that came with them.
"""
BUILD_TEXT_TAB = """
import json
import gradio as gr
from gen_app.loading import checkpoint_dir
from gen_app.text.tab import TAB
from gen_app.ui import NO_CARD, model_card_summary

with gr.Blocks() as demo:
    TAB.build()
page = json.dumps(demo.config)
print("HUB CARD", "HUB-CARD-LINE" in page, "hf.co/gen-app/text-card@main" in page)
print("LOCAL CARD", "trained from scratch in this repository" in page)
folder, origin = checkpoint_dir("sr-x2")
print("NO CARD", origin, sorted(p.name for p in folder.iterdir()), model_card_summary(folder / "README.md") == NO_CARD)
"""


def test_about_panel_shows_the_card_downloaded_with_hub_weights(hf_home, tmp_path):
    """The text tab, its weights from a Hub repo, shows that repo's card, not checkpoints/text/README.md; a repo
    without a card still loads (and its panel says there is no card)."""
    with_card, without_card = tmp_path / "with-card", tmp_path / "without-card"
    for folder, task, names in [
        (with_card, "text", ("config.json", "model.safetensors", "tokenizer.json")),
        (without_card, "sr-x2", ("config.json", "model.safetensors")),
    ]:
        folder.mkdir()
        for name in names:
            (folder / name).symlink_to(CHECKPOINTS / task / name)
    (with_card / "README.md").write_text(HUB_CARD, encoding="utf-8")
    env = {**os.environ, "GEN_APP_TEXT_REPO": "gen-app/text-card", "GEN_APP_SR_X2_REPO": "gen-app/no-card"}
    with HubServer({"gen-app/text-card": with_card, "gen-app/no-card": without_card}) as hub:
        env |= {"HF_ENDPOINT": hub.url, "HF_HOME": hf_home}
        result = subprocess.run(
            [sys.executable, "-c", BUILD_TEXT_TAB], env=env, capture_output=True, text=True, timeout=180
        )
        assert any(r.startswith("GET /gen-app/text-card/resolve/main/README.md") for r in hub.requests)
    assert result.returncode == 0, result.stderr
    assert "HUB CARD True True" in result.stdout and "LOCAL CARD False" in result.stdout
    assert "NO CARD hf.co/gen-app/no-card@main ['config.json', 'model.safetensors'] True" in result.stdout
