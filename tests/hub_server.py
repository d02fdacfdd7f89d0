"""A loopback HTTP server that answers the Hugging Face Hub's download routes for local folders.

Serves `GET/HEAD /{repo_id}/resolve/{revision}/{filename}` with the headers `hf_hub_download` relies on
(X-Repo-Commit, ETag, Content-Length), and `/api/models/{repo_id}/revision/{revision}` for
`snapshot_download`, so tests exercise the real download path without the internet.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class HubServer:
    def __init__(self, repos: dict[str, Path]):
        self.repos = repos
        self.commit = hashlib.sha1(b"gen_app-test").hexdigest()
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_HEAD(self) -> None:
                self.respond(head=True)

            def do_GET(self) -> None:
                self.respond(head=False)

            def respond(self, head: bool) -> None:
                server.requests.append(f"{self.command} {self.path}")
                body, headers = server.route(self.path.split("?")[0])
                if body is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                for key, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(key, value)
                self.end_headers()
                if not head:
                    self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def route(self, path: str) -> tuple[bytes | None, dict[str, str]]:
        for repo_id, folder in self.repos.items():
            if path.startswith(f"/api/models/{repo_id}/revision/"):
                files = [{"rfilename": p.name} for p in sorted(folder.iterdir()) if p.is_file()]
                info = {"id": repo_id, "sha": self.commit, "siblings": files}
                return json.dumps(info).encode(), {"Content-Type": "application/json"}
            prefix = f"/{repo_id}/resolve/"
            if path.startswith(prefix):
                _revision, _, filename = path[len(prefix) :].partition("/")
                file = folder / filename
                if not file.is_file():
                    return None, {}
                body = file.read_bytes()
                etag = f'"{hashlib.sha256(body).hexdigest()}"'
                return body, {"X-Repo-Commit": self.commit, "ETag": etag, "Content-Type": "application/octet-stream"}
        return None, {}

    def __enter__(self) -> HubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
