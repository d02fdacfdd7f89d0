"""Publish the app on the Hugging Face Hub: one model repo per checkpoint, then the Space that runs them.

python -m gen_app.publish --space you/gen-app [--models you] [--private] [--dry-run]

1. For each task of gen_app/models.json, the model repo `<models>/<space name>-<task>` (e.g. you/gen-app-faces)
   gets everything in checkpoints/<task>/: weights, config, tokenizer, model card (README.md), metrics and the
   card's pictures.
2. The Space `--space` (sdk gradio) gets the app: app.py, requirements.txt, gen_app/, docs/, and
   - gen_app/models.json pointing every task at its model repo by the commit id step 1 made (or found), never `main`,
     so the Space runs exactly the weights published with it;
   - README.md with the front matter the Space reads: `models:` (links the Space to its model repos) and
     `preload_from_hub:` (the weights are downloaded when the Space is built, at the same pinned commits, so a
     cold start reads them from the cache with no network; gen_app.loading then skips even the per-file check,
     since a commit id never changes).

Each repo gets one commit, of whole files (HfApi.create_commit). Unchanged files are left out of it (the Hub's
preupload answer carries each remote file's id, which the client compares with the local one), and a commit with
nothing left in it is not made: a second run with nothing changed makes no commit at all, and the Space's
models.json, pinned to the same commits, is unchanged too. Files removed locally stay in the repos (delete them on
the Hub). The token comes from `hf auth login` or HF_TOKEN; HF_ENDPOINT selects another Hub (the tests use a
loopback one). `--dry-run` prints every repo and file it would touch, and needs neither a token nor the network.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx2  # huggingface_hub's HTTP client: its connection errors
import yaml
from huggingface_hub import CommitOperationAdd, HfApi, constants, get_token
from huggingface_hub.errors import HfHubHTTPError

from gen_app.loading import CARD_FILE, CHECKPOINTS, MODELS_CONFIG, ROOT, WEIGHT_FILES, short

SPACE_PATHS = ("app.py", "requirements.txt", "gen_app", "docs")  # what the Space runs (README.md is rewritten)
PRELOADED_SUFFIXES = (".json", ".safetensors")  # what a task loads (weights, config, tokenizer) with its card
# The Space serves Gradio's MCP server too (GRADIO_MCP_SERVER is Gradio's own switch; set when the Space is created).
SPACE_VARIABLES = [{"key": "GRADIO_MCP_SERVER", "value": "True"}]


@dataclass
class Target:
    """One repo to create or update, and the files it should hold (path in the repo -> local file or content)."""

    repo_id: str
    repo_type: str  # "model" or "space"
    files: dict[str, Path | bytes]


def tasks() -> list[str]:
    """The tasks the app loads (gen_app/models.json), each a folder of checkpoints/."""
    return [task for task in json.loads(MODELS_CONFIG.read_text()) if not task.startswith("_")]


def folder_files(folder: Path, prefix: str = "") -> dict[str, Path | bytes]:
    """Every file under `folder` as {path in the repo: file}, caches and dotfiles left out."""
    files: dict[str, Path | bytes] = {}
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if path.is_file() and not any(p == "__pycache__" or p.startswith(".") or p.endswith(".pyc") for p in parts):
            files[prefix + "/".join(parts)] = path
    return files


def model_repo_id(namespace: str, space_id: str, task: str) -> str:
    return f"{namespace}/{space_id.split('/')[-1]}-{task}"


def model_targets(space_id: str, namespace: str, checkpoints: Path = CHECKPOINTS) -> dict[str, Target]:
    """Per task, its model repo and the files of checkpoints/<task>/."""
    targets = {}
    for task in tasks():
        folder = checkpoints / task
        missing = [name for name in WEIGHT_FILES if not (folder / name).is_file()]
        if missing:
            raise SystemExit(f"error: {folder} has no {' or '.join(missing)}: nothing to publish for {task}")
        targets[task] = Target(model_repo_id(namespace, space_id, task), "model", folder_files(folder))
    return targets


def pinned_models(pins: dict[str, tuple[str, str]]) -> bytes:
    """gen_app/models.json with every task pointing at its model repo and commit: {task: (repo id, commit)}."""
    config = json.loads(MODELS_CONFIG.read_text())
    for task, (repo_id, revision) in pins.items():
        config[task] = {"repo_id": repo_id, "revision": revision}
    return (json.dumps(config, indent=2, ensure_ascii=False) + "\n").encode()


def space_readme(readme: str, pins: dict[str, tuple[str, str]], preload: dict[str, list[str]]) -> bytes:
    """The repository's README.md as the Space's: its front matter with `models:` and `preload_from_hub:` (each
    entry "repo file1,file2 commit"), and links to checkpoints/<task>/README.md pointed at the model repos."""
    front = re.match(r"\A---\n(.*?)\n---\n", readme, flags=re.S)
    if front is None:
        raise SystemExit("error: README.md has no front matter (the Space configuration)")
    config = yaml.safe_load(front.group(1))
    config["models"] = [repo_id for repo_id, _ in pins.values()]
    config["preload_from_hub"] = [f"{repo_id} {','.join(preload[t])} {rev}" for t, (repo_id, rev) in pins.items()]
    body = readme[front.end() :]
    repos = {task: repo_id for task, (repo_id, _) in pins.items()}

    def to_hub(match: re.Match) -> str:
        task = match.group(1)
        return f"https://huggingface.co/{repos[task]}{match.group(2) or ''}" if task in repos else match.group(0)

    body = re.sub(r"checkpoints/([\w-]+)/README\.md(#[\w-]+)?", to_hub, body)
    front_matter = yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{front_matter}---\n{body}".encode()


def space_target(space_id: str, pins: dict[str, tuple[str, str]], models: dict[str, Target]) -> Target:
    """The Space's files: the app, its pinned models.json and its README (front matter for the Space)."""
    files: dict[str, Path | bytes] = {}
    for name in SPACE_PATHS:
        path = ROOT / name
        files |= folder_files(path, f"{name}/") if path.is_dir() else {name: path}
    files["gen_app/models.json"] = pinned_models(pins)
    preload = {
        task: [name for name in target.files if name.endswith(PRELOADED_SUFFIXES) or name == CARD_FILE]
        for task, target in models.items()
    }
    files["README.md"] = space_readme((ROOT / "README.md").read_text(encoding="utf-8"), pins, preload)
    return Target(space_id, "space", files)


def size(content: Path | bytes) -> int:
    return content.stat().st_size if isinstance(content, Path) else len(content)


def show(target: Target, action: str) -> None:
    total = sum(size(c) for c in target.files.values())
    print(f"{action} {target.repo_type} repo {target.repo_id}: {len(target.files)} files, {total / 1e6:.1f} MB")
    for name, content in sorted(target.files.items()):
        source = content.relative_to(ROOT) if isinstance(content, Path) and content.is_relative_to(ROOT) else content
        origin = "generated" if isinstance(content, bytes) else source
        print(f"  {name}  ({size(content):,} bytes, {origin})")


def push(api: HfApi, target: Target, private: bool, message: str) -> tuple[str, bool]:
    """Create `target`'s repo if needed and commit its files; (the repo's commit after that, whether one was made).
    Files the repo already holds unchanged are left out of the commit; with none left, no commit is made."""
    space = {"space_sdk": "gradio", "space_variables": SPACE_VARIABLES} if target.repo_type == "space" else {}
    api.create_repo(target.repo_id, repo_type=target.repo_type, private=private, exist_ok=True, **space)
    before = api.repo_info(target.repo_id, repo_type=target.repo_type).sha
    operations = [CommitOperationAdd(name, content) for name, content in sorted(target.files.items())]
    info = api.create_commit(target.repo_id, operations, commit_message=message, repo_type=target.repo_type)
    return info.oid, info.oid != before


def publish(
    space_id: str,
    namespace: str | None = None,
    private: bool = False,
    dry_run: bool = False,
    api: HfApi | None = None,
    checkpoints: Path = CHECKPOINTS,
) -> dict[str, tuple[str, str]]:
    """Publish every model (from `checkpoints`), then the Space; returns {task: (model repo id, pinned commit)} (dry
    run: placeholders)."""
    namespace = namespace or space_id.split("/")[0]
    models = model_targets(space_id, namespace, checkpoints)
    pins: dict[str, tuple[str, str]] = {}
    if dry_run:
        api = None
    elif api is None:
        api = HfApi(token=get_token())
    for task, target in models.items():
        if api is None:
            show(target, "would create or update")
            pins[task] = (target.repo_id, f"<commit-to-come:{target.repo_id}>")
            continue
        oid, made = push(api, target, private, f"gen_app: publish the {task} model")
        pins[task] = (target.repo_id, oid)
        print(f"{target.repo_id}: {'new commit' if made else 'unchanged at'} {oid}")
    space = space_target(space_id, pins, models)
    if api is None:
        show(space, "would create or update")
        print(f"gen_app/models.json:\n{pinned_models(pins).decode()}")
        front_matter = space.files["README.md"].decode().split("---\n")[1]  # type: ignore[union-attr]
        print(f"README.md front matter:\n{front_matter}")
        return pins
    oid, made = push(api, space, private, "gen_app: publish the app")
    print(f"{space_id}: {'new commit' if made else 'unchanged at'} {oid}")
    print(f"The Space: {api.endpoint}/spaces/{space_id}")
    if private:
        print("The model repos are private: give the Space a token that can read them (an HF_TOKEN secret).")
    return pins


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gen_app.publish",
        description="Publish each checkpoint as a model repo and the app as a Gradio Space that loads them "
        "(pinned to the commits just made). Token: `hf auth login` or HF_TOKEN; HF_ENDPOINT: another Hub.",
    )
    parser.add_argument("--space", required=True, help="the Space's repo id, e.g. you/gen-app")
    parser.add_argument("--models", help="namespace of the model repos (default: the Space's), e.g. you")
    parser.add_argument("--private", action="store_true", help="create the repos private")
    parser.add_argument("--dry-run", action="store_true", help="print every repo and file, touch nothing")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", args.space):
        parser.error(f"--space must be a repo id like you/gen-app, got {args.space!r}")
    if args.models is not None and not re.fullmatch(r"[\w.-]+", args.models):
        parser.error(f"--models must be a user or organisation name, got {args.models!r}")
    if not args.dry_run and get_token() is None:
        print("error: no Hugging Face token: run `hf auth login` or set HF_TOKEN", file=sys.stderr)
        return 2
    try:
        publish(args.space, args.models, args.private, args.dry_run)
    except (HfHubHTTPError, httpx2.TransportError) as error:  # refused (token, rights, name) or unreachable
        print(f"error: {constants.ENDPOINT}: {short(error)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
