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
from huggingface_hub import HfApi, constants, hf_hub_download, snapshot_download

from gen_app.loading import CHECKPOINTS, ROOT
from gen_app.publish import Target, main, publish, push, tasks

SPACE = "you/gen-app"
TOKEN = "hf_loopback_test_token"


def repo_of(task: str) -> str:
    return f"you/gen-app-{task}"


def publish_command(hub: HubServer) -> subprocess.CompletedProcess:
    """`python -m gen_app.publish --space you/gen-app`, as a user runs it, with the loopback Hub as HF_ENDPOINT."""
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_TOKEN": TOKEN}
    command = [sys.executable, "-m", "gen_app.publish", "--space", SPACE]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def published():
    """A loopback Hub after one publish: (hub, {task: (model repo, pinned commit)})."""
    with HubServer() as hub:
        result = publish_command(hub)
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.stdout.count("new commit") == len(tasks()) + 1
        assert f"The Space: {hub.url}/spaces/{SPACE}" in result.stdout
        config = json.loads(hub.commits("space", SPACE)[-1].files["gen_app/models.json"])
        yield hub, {task: (config[task]["repo_id"], config[task]["revision"]) for task in tasks()}


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
    settings = hub.created[("space", SPACE)].settings
    assert settings["sdk"] == "gradio" and {"key": "GRADIO_MCP_SERVER", "value": "True"} in settings["variables"]
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


def test_a_second_publish_with_nothing_changed_makes_no_commit(published):
    hub, pins = published
    before = {key: len(repo.commits) for key, repo in hub.created.items()}
    asked = len(hub.requests)
    result = publish_command(hub)
    assert result.returncode == 0, result.stderr[-3000:]
    assert {key: len(repo.commits) for key, repo in hub.created.items()} == before
    assert result.stdout.count("unchanged at") == len(pins) + 1
    # The client asked (preupload), learnt every file was there unchanged, and sent no commit.
    assert any("/preupload/" in r for r in hub.requests[asked:])
    assert not any("/commit/" in r for r in hub.requests[asked:])
    assert publish(SPACE, api=HfApi(endpoint=hub.url, token=TOKEN)) == pins  # the same pins, in-process too


def test_a_changed_card_gets_a_new_commit_and_the_space_a_new_pin(published, tmp_path):
    """One file changed: a commit in its model repo, and in the Space (models.json pins that commit); no other."""
    hub, pins = published
    copy = tmp_path / "checkpoints"
    for path in CHECKPOINTS.rglob("*"):
        if path.is_file():
            (copy / path.relative_to(CHECKPOINTS)).parent.mkdir(parents=True, exist_ok=True)
            (copy / path.relative_to(CHECKPOINTS)).symlink_to(path)
    card = copy / "sr-x2" / "README.md"
    card.unlink()
    card.write_text((CHECKPOINTS / "sr-x2" / "README.md").read_text(encoding="utf-8") + "\nRepublished.\n")
    before = {key: len(repo.commits) for key, repo in hub.created.items()}
    new = publish(SPACE, api=HfApi(endpoint=hub.url, token=TOKEN), checkpoints=copy)
    grown = {key for key, repo in hub.created.items() if len(repo.commits) != before[key]}
    assert grown == {("model", repo_of("sr-x2")), ("space", SPACE)}
    assert new["sr-x2"] != pins["sr-x2"] and {t: p for t, p in new.items() if t != "sr-x2"} == {
        t: p for t, p in pins.items() if t != "sr-x2"
    }
    head = hub.commits("space", SPACE)[-1].files
    assert json.loads(head["gen_app/models.json"])["sr-x2"]["revision"] == new["sr-x2"][1]
    assert hub.commits("model", repo_of("sr-x2"))[-1].files["README.md"].endswith(b"Republished.\n")


def test_a_pinned_download_is_served_from_the_cache_without_asking_the_hub(published, tmp_path):
    """Why the Space pins commits and preloads them: once a commit's file is cached (preload_from_hub does it when
    the Space is built), hf_hub_download returns it without a request; with `main` it would ask the Hub each time."""
    hub, pins = published
    repo_id, revision = pins["faces-prior"]
    first = hf_hub_download(repo_id, "config.json", revision=revision, cache_dir=tmp_path, endpoint=hub.url)
    asked = len(hub.requests)
    again = hf_hub_download(repo_id, "config.json", revision=revision, cache_dir=tmp_path, endpoint=hub.url)
    assert again == first and len(hub.requests) == asked
    hf_hub_download(repo_id, "config.json", revision="main", cache_dir=tmp_path, endpoint=hub.url)
    assert len(hub.requests) > asked


def test_private_repos_and_another_namespace_for_the_models(capsys):
    with HubServer() as hub:
        api = HfApi(endpoint=hub.url, token=TOKEN)
        oid, made = push(api, Target("an-org/tiny", "model", {"config.json": b"{}"}), True, "a private repo")
        assert made and hub.created[("model", "an-org/tiny")].settings["visibility"] == "private"
        assert push(api, Target("an-org/tiny", "model", {"config.json": b"{}"}), True, "again") == (oid, False)
    assert main(["--space", SPACE, "--models", "an-org", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "model repo an-org/gen-app-faces:" in out and f"space repo {SPACE}:" in out


def test_dry_run_prints_every_repo_and_file_and_touches_nothing(capsys):
    assert main(["--space", SPACE, "--dry-run"]) == 0
    out = capsys.readouterr().out
    for task in tasks():
        assert f"model repo {repo_of(task)}:" in out
    assert f"space repo {SPACE}:" in out
    for name in ("model.safetensors", "tokenizer.json", "gen_app/models.json", "README.md", "app.py"):
        assert f"  {name}  (" in out
    assert (
        "you/gen-app-faces README.md,config.json,metrics.json,model.safetensors,training.json "
        "<commit-to-come:you/gen-app-faces>" in out
    )


def test_publish_without_a_token_or_a_hub_says_so_in_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "token"))  # no saved login either
    assert main(["--space", SPACE]) == 2
    assert "hf auth login" in capsys.readouterr().err
    with HubServer() as hub:
        url = hub.url  # closed once the server stops
    env = {**os.environ, "HF_ENDPOINT": url, "HF_TOKEN": TOKEN}
    command = [sys.executable, "-m", "gen_app.publish", "--space", SPACE]
    down = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert down.returncode == 1 and "Traceback" not in down.stderr
    [line] = down.stderr.strip().splitlines()
    assert line.startswith(f"error: {url}: ") and "Connection refused" in line
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
    hub, _ = published
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
    # The Space's own models.json (a later test may have published again: read the pins from what was downloaded).
    config = json.loads((space / "gen_app" / "models.json").read_text())
    pins = {task: (config[task]["repo_id"], config[task]["revision"]) for task in tasks()}
    assert all(hub.commits("model", repo_id)[-1].oid == revision for repo_id, revision in pins.values())
    states = json.loads(result.stdout.split("STATES ", 1)[1].splitlines()[0])
    tabs = json.loads(result.stdout.split("TABS ", 1)[1].splitlines()[0])
    assert tabs == {"faces": True, "style": True, "sr": True, "text": True, "audio": True, "check": True}
    assert states == {task: ["loaded", f"hf.co/{repo_id}@{rev}"] for task, (repo_id, rev) in pins.items()}
    for repo_id, revision in pins.values():
        assert f"GET /{repo_id}/resolve/{revision}/model.safetensors" in hub.requests
