"""A loopback HTTP server that answers the Hugging Face Hub's routes, for tests without the internet.

Downloads (what `hf_hub_download` and `snapshot_download` call):
- `GET/HEAD /{repo_id}/resolve/{revision}/{filename}` (`/spaces/{repo_id}/...` for a Space) with the headers
  `hf_hub_download` relies on (X-Repo-Commit, ETag, Content-Length);
- `GET /api/{models|spaces}/{repo_id}[/revision/{revision}]` (repo info: its commit and files) and
  `GET /api/{models|spaces}/{repo_id}/tree/{revision}` (the file listing `snapshot_download` reads).

Uploads (the part of the protocol `HfApi.create_repo` and `HfApi.create_commit` use, from huggingface_hub's
hf_api.py and _commit_api.py):
- `POST /api/repos/create` (409 when the repo exists: `exist_ok=True` accepts that);
- `POST /api/validate-yaml` (a README.md's front matter, checked before every commit that adds one);
- `POST /api/{type}s/{repo_id}/preupload/{revision}`: "regular" (inline, base64) for every file, with the `oid`
  (git blob sha1) of the file already there, which the client compares to skip unchanged files;
- `POST /api/{type}s/{repo_id}/commit/{revision}`: the NDJSON commit (header, file, deletedFile lines).

Repos passed to the constructor are served read-only from local folders at one fixed commit; repos created
through the API live in memory, with a real history: every commit gets its own id, and any commit can be read by
its id (a pinned revision) as well as `main`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

API_ROUTE = re.compile(
    r"^/api/(models|spaces|datasets)/([^/]+/[^/]+)(?:/(revision|tree|preupload|commit)/([^/]+)(/.*)?)?$"
)
GITATTRIBUTES = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"  # what a new Hub repo starts with


def git_blob_id(data: bytes) -> str:
    """The id git (and the Hub's preupload `oid` for a regular file) gives a file's content."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Commit:
    oid: str
    files: dict[str, bytes]
    message: str = ""


@dataclass
class Repo:
    repo_type: str  # "model", "space", "dataset"
    repo_id: str
    settings: dict  # what create_repo sent (visibility, sdk, variables...)
    commits: list[Commit] = field(default_factory=list)  # oldest first; the last is main

    def at(self, revision: str) -> Commit | None:
        if revision == "main":
            return self.commits[-1]
        return next((c for c in self.commits if c.oid == revision), None)


class HubServer:
    def __init__(self, repos: dict[str, Path] | None = None):
        self.repos = repos or {}  # read-only model repos served from folders, at self.commit
        self.commit = hashlib.sha1(b"gen_app-test").hexdigest()
        self.created: dict[tuple[str, str], Repo] = {}  # (repo type, repo id) -> repos made through the API
        self.requests: list[str] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_HEAD(self) -> None:
                self.respond(head=True)

            def do_GET(self) -> None:
                self.respond(head=False)

            def do_POST(self) -> None:
                server.requests.append(f"POST {self.path}")
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                authorised = self.headers.get("Authorization", "").startswith("Bearer ")
                status, answer = server.post(urlsplit(self.path).path, body, authorised)
                self.send(status, json.dumps(answer).encode(), {"Content-Type": "application/json"}, head=False)

            def respond(self, head: bool) -> None:
                server.requests.append(f"{self.command} {self.path}")
                url = urlsplit(self.path)
                body, headers = server.route(unquote(url.path), parse_qs(url.query))
                if body is None:
                    self.send(404, b"", {"X-Error-Code": headers.get("X-Error-Code", "EntryNotFound")}, head)
                    return
                self.send(200, body, headers, head)

            def send(self, status: int, body: bytes, headers: dict[str, str], head: bool) -> None:
                self.send_response(status)
                for key, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(key, value)
                self.end_headers()
                if not head:
                    self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    # ---- reading ------------------------------------------------------------------------------------------------

    def files_at(self, repo_type: str, repo_id: str, revision: str) -> tuple[dict[str, bytes] | None, str]:
        """(path -> content, commit id) of a repo at `revision`; None when there is no such repo or revision."""
        with self.lock:
            repo = self.created.get((repo_type, repo_id))
            if repo is not None:
                commit = repo.at(revision)
                return (dict(commit.files), commit.oid) if commit else (None, "")
        folder = self.repos.get(repo_id) if repo_type == "model" else None
        if folder is None:
            return None, ""
        return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}, self.commit

    def route(self, path: str, query: dict) -> tuple[bytes | None, dict[str, str]]:
        api = API_ROUTE.match(path)
        if api and api.group(3) in (None, "revision", "tree"):
            repo_type, repo_id, kind, revision, sub = api.groups()
            files, oid = self.files_at(repo_type.rstrip("s"), repo_id, revision or "main")
            if files is None:
                return None, {"X-Error-Code": "RepoNotFound" if revision in (None, "main") else "RevisionNotFound"}
            if kind == "tree":  # one page, recursive: every file (snapshot_download asks for exactly that)
                prefix = unquote(sub or "").strip("/")
                entries = [
                    {"type": "file", "path": name, "size": len(data), "oid": git_blob_id(data)}
                    for name, data in sorted(files.items())
                    if not prefix or name.startswith(prefix + "/")
                ]
                return json.dumps(entries).encode(), {"Content-Type": "application/json"}
            siblings = [{"rfilename": name, "size": len(data)} for name, data in sorted(files.items())]
            info = {"id": repo_id, "sha": oid, "siblings": siblings, "private": False}
            return json.dumps(info).encode(), {"Content-Type": "application/json"}
        resolve = re.match(r"^/(?:(spaces|datasets)/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)$", path)
        if resolve:
            kind, repo_id, revision, filename = resolve.groups()
            files, oid = self.files_at((kind or "models").rstrip("s"), repo_id, revision)
            if files is None or filename not in files:
                return None, {}
            body = files[filename]
            etag = f'"{hashlib.sha256(body).hexdigest()}"'
            return body, {"X-Repo-Commit": oid, "ETag": etag, "Content-Type": "application/octet-stream"}
        return None, {}

    # ---- writing ------------------------------------------------------------------------------------------------

    def post(self, path: str, body: bytes, authorised: bool) -> tuple[int, dict]:
        if not authorised:
            return 401, {"error": "Invalid credentials in Authorization header"}
        if path == "/api/repos/create":
            return self.create_repo(json.loads(body))
        if path == "/api/validate-yaml":
            return self.validate_yaml(json.loads(body)["content"])
        api = API_ROUTE.match(path)
        if not api or api.group(3) not in ("preupload", "commit"):
            return 404, {"error": f"no route {path}"}
        repo_type, repo_id, kind, revision, _ = api.groups()
        with self.lock:
            repo = self.created.get((repo_type.rstrip("s"), repo_id))
            if repo is None:
                return 404, {"error": "Repository not found"}
            if unquote(revision) != "main":
                return 400, {"error": "this test Hub commits to main only"}
            if kind == "preupload":
                return self.preupload(repo, json.loads(body))
            return self.commit_files(repo, body)

    def create_repo(self, payload: dict) -> tuple[int, dict]:
        repo_type = payload.get("type") or "model"
        repo_id = f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
        url = f"{self.url}/{'' if repo_type == 'model' else repo_type + 's/'}{repo_id}"
        with self.lock:
            if (repo_type, repo_id) in self.created:
                return 409, {"error": "You already created this repo", "url": url}
            if repo_type == "space" and payload.get("sdk") not in ("gradio", "docker", "static", "streamlit"):
                return 400, {"error": "a Space needs an sdk"}
            repo = Repo(repo_type, repo_id, payload)
            files = {".gitattributes": GITATTRIBUTES}
            repo.commits.append(Commit(hashlib.sha1(f"{repo_type}/{repo_id}".encode()).hexdigest(), files, "initial"))
            self.created[(repo_type, repo_id)] = repo
        return 200, {"url": url, "name": repo_id}

    @staticmethod
    def validate_yaml(content: str) -> tuple[int, dict]:
        front = re.match(r"\A---\n(.*?)\n---\n", content, flags=re.S)
        try:
            if front and not isinstance(yaml.safe_load(front.group(1)), dict):
                raise yaml.YAMLError("the front matter is not a mapping")
        except yaml.YAMLError as error:
            return 400, {"errors": [{"message": str(error)}], "warnings": []}
        return 200, {"errors": [], "warnings": []}

    @staticmethod
    def preupload(repo: Repo, payload: dict) -> tuple[int, dict]:
        head = repo.commits[-1]
        answer = [
            {
                "path": f["path"],
                "uploadMode": "regular",
                "shouldIgnore": False,
                "oid": git_blob_id(head.files[f["path"]]) if f["path"] in head.files else None,
            }
            for f in payload["files"]
        ]
        return 200, {"files": answer, "commitOid": head.oid}

    def commit_files(self, repo: Repo, body: bytes) -> tuple[int, dict]:
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        if not lines or lines[0]["key"] != "header":
            return 400, {"error": "a commit starts with its header"}
        files = dict(repo.commits[-1].files)
        for line in lines[1:]:
            key, value = line["key"], line["value"]
            if key == "file" and value.get("encoding") == "base64":
                files[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                files.pop(value["path"], None)
            else:  # lfsFile: preupload never asks for LFS here
                return 400, {"error": f"this test Hub does not take {key!r} operations"}
        parent = repo.commits[-1].oid
        digest = hashlib.sha1(parent.encode())
        for name, data in sorted(files.items()):
            digest.update(name.encode() + b"\0" + git_blob_id(data).encode())
        oid = digest.hexdigest()
        repo.commits.append(Commit(oid, files, lines[0]["value"]["summary"]))
        prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
        return 200, {"success": True, "commitOid": oid, "commitUrl": f"{self.url}/{prefix}{repo.repo_id}/commit/{oid}"}

    def commits(self, repo_type: str, repo_id: str) -> list[Commit]:
        """The history of a repo made through the API, oldest first (empty when there is no such repo)."""
        with self.lock:
            repo = self.created.get((repo_type, repo_id))
            return list(repo.commits) if repo else []

    def __enter__(self) -> HubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
