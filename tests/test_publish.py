"""Publishing (gen_app.publish) into a loopback Hub through huggingface_hub's real upload code, then running the
published Space from its own files against that Hub: every tab loads its model at the pinned commit."""

import json
import os
import re
import subprocess
import sys

import pytest
import yaml
from hub_server import HubServer
from huggingface_hub import HfApi, constants, snapshot_download

from gen_app.loading import CHECKPOINTS, ROOT
from gen_app.publish import main, publish, tasks

SPACE = "you/gen-app"
TOKEN = "hf_loopback_test_token"


def repo_of(task: str) -> str:
    return f"you/gen-app-{task}"


@pytest.fixture(scope="module")
def published():
    """A loopback Hub after one publish: (hub, pins, the first publish's printout)."""
    with HubServer() as hub:
        pins = publish(SPACE, api=HfApi(endpoint=hub.url, token=TOKEN))
        yield hub, pins


def test_publish_makes_one_model_repo_per_checkpoint_and_a_space(published):
    hub, pins = published
    assert set(pins) == set(tasks()) == {p.name for p in CHECKPOINTS.iterdir() if p.is_dir()}
    for task, (repo_id, revision) in pins.items():
        assert repo_id == repo_of(task)
        history = hub.commits("model", repo_id)
        assert len(history) == 2 and history[-1].oid == revision  # the repo's first commit, then ours
        files = history[-1].files
        for path in (CHECKPOINTS / task).rglob("*"):  # every file of the checkpoint, byte for byte
            if path.is_file():
                assert files[path.relative_to(CHECKPOINTS / task).as_posix()] == path.read_bytes()
    space = hub.commits("space", SPACE)[-1].files
    assert hub.created[("space", SPACE)].settings["sdk"] == "gradio"
    assert space["app.py"] == (ROOT / "app.py").read_bytes() and "gen_app/faces/pipeline.py" in space
    assert not any(name.startswith("checkpoints/") or "__pycache__" in name for name in space)
    # models.json pins each task to the commit made in its repo (not "main").
    config = json.loads(space["gen_app/models.json"])
    for task, (repo_id, revision) in pins.items():
        assert config[task] == {"repo_id": repo_id, "revision": revision} and re.fullmatch(r"[0-9a-f]{40}", revision)
    # The Space's front matter: its models, and their weights preloaded at the same commits.
    front = yaml.safe_load(space["README.md"].decode().split("---\n")[1])
    assert front["sdk"] == "gradio" and front["app_file"] == "app.py"
    assert front["models"] == [repo_of(task) for task in pins]
    preload = {entry.split()[0]: entry.split()[1:] for entry in front["preload_from_hub"]}
    files, revision = preload[repo_of("text")]
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md"} <= set(files.split(","))
    assert not [name for name in files.split(",") if name.endswith(".png")] and revision == pins["text"][1]
    assert "checkpoints/sr-x4/README.md" not in space["README.md"].decode()  # card links point at the model repos
    assert f"https://huggingface.co/{repo_of('sr-x4')}#training" in space["README.md"].decode()


def test_a_second_publish_with_nothing_changed_makes_no_commit(published, capsys):
    hub, pins = published
    before = {key: len(repo.commits) for key, repo in hub.created.items()}
    again = publish(SPACE, api=HfApi(endpoint=hub.url, token=TOKEN))
    assert again == pins
    assert {key: len(repo.commits) for key, repo in hub.created.items()} == before
    assert capsys.readouterr().out.count("unchanged at") == len(pins) + 1
    # The client asked (preupload), learnt every file was there unchanged, and sent no commit.
    assert not [r for r in hub.requests[-40:] if "/commit/" in r]


def test_dry_run_prints_every_repo_and_file_and_touches_nothing(capsys):
    assert main(["--space", SPACE, "--dry-run"]) == 0
    out = capsys.readouterr().out
    for task in tasks():
        assert f"model repo {repo_of(task)}:" in out
    assert f"space repo {SPACE}:" in out
    for name in ("model.safetensors", "tokenizer.json", "gen_app/models.json", "README.md", "app.py"):
        assert f"  {name}  (" in out
    assert "<the commit made in you/gen-app-faces>" in out


def test_publish_without_a_token_says_how_to_log_in(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "token"))  # no saved login either
    assert main(["--space", SPACE]) == 2
    assert "hf auth login" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["--space", "no-slash"])
    assert exit_.value.code == 2 and "--space must be a repo id" in capsys.readouterr().err


RUN_SPACE = """
import json
from gen_app import metrics
from gen_app.app import build_demo
from gen_app.loading import LOAD_STATES
build_demo()
print("STATES", json.dumps({task: [s.state, s.origin] for task, s in LOAD_STATES.items()}))
print("TABS", json.dumps(metrics.TAB_STATES))
"""


def test_the_published_space_runs_every_tab_from_the_hub_at_the_pinned_commits(published, tmp_path):
    """The Space as published (its own files, no checkpoints/ to fall back on) against the loopback Hub."""
    hub, pins = published
    space = tmp_path / "space"
    snapshot_download(SPACE, repo_type="space", local_dir=space, endpoint=hub.url, cache_dir=tmp_path / "cache")
    assert (space / "app.py").is_file() and not (space / "checkpoints").exists()
    env = {k: v for k, v in os.environ.items() if not (k.startswith("GEN_APP_") and k.endswith("_REPO"))}
    env |= {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf_home"), "GEN_APP_HUB_WAIT": "120"}
    env.pop("GEN_APP_CHECKPOINTS", None)
    result = subprocess.run(
        [sys.executable, "-c", RUN_SPACE], cwd=space, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    states = json.loads(result.stdout.split("STATES ", 1)[1].splitlines()[0])
    tabs = json.loads(result.stdout.split("TABS ", 1)[1].splitlines()[0])
    assert tabs == {"faces": True, "style": True, "sr": True, "text": True, "audio": True}
    assert states == {task: ["loaded", f"hf.co/{repo_id}@{rev}"] for task, (repo_id, rev) in pins.items()}
    for repo_id, revision in pins.values():
        assert f"GET /{repo_id}/resolve/{revision}/model.safetensors" in hub.requests
