"""Load, memory and disk under many users: a bounded load generator for the whole app, on loopback only.

    python -m bench.load [--clients 32] [--rounds 3] [--think 0] [--heavy] [--soak 1000] [--json OUT]

It starts the app (app.py's build_demo and LAUNCH_OPTIONS) in a child process on 127.0.0.1 with a fresh
Gradio cache folder, then runs `--clients` users at once over HTTP. User i works in tab i mod 5
with that tab's default settings (faces: 8 faces; text: 300 tokens; style: a painter's style at 768 px; super-
resolution: an example photo ×4; audio: compose 16 bars), `--rounds` requests each, one after another, each user
waiting `--think` seconds (on average: uniform from half to 1.5 times it) after each result, as a visitor looks at
it before clicking again (0: the next request at once, the hardest case). With `--heavy`, two of the users
instead send the largest legal requests: any-style optimisation of a 25-megapixel photo (the input limit; 300
iterations at 512 px, its time cap applies) and ×4 super-resolution of a 1024×1024 RGB photo (the input limit
at ×4). Every request has a deadline (`--timeout`), and the whole run stops after `--max-seconds`.

Each user (`Visitor`) speaks the app's REST routes over one kept-alive connection, as lean as a browser: it uploads
its inputs, calls the endpoint, reads its stream to the end and fetches the result's files. The users run at nice
`--client-nice` (CLIENT_NICE): they stand in for browsers on other machines.

Printed: per endpoint, requests, errors, p50 and p95 latency (submit to final result and its files); the server's
peak RSS (sampled every 50 ms from /proc) and its RSS after start-up; the Gradio cache folder's size at its peak and at
the end. `--soak N` then sends N light requests one after another (faces, text, style, SR in turn) and prints
RSS after warm-up and at each quarter of the soak: a leak shows as a steady climb, a cache filling as an early
rise that levels off.

Take figures on a quiet machine (nothing else using the CPU); the README quotes them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from gen_app.loading import ROOT
from gen_app.sr.pipeline import max_input_pixels
from gen_app.style.pipeline import ANY_STYLE_SIDES, ANY_STYLE_STEPS_RANGE
from gen_app.style.pipeline import MAX_INPUT_PIXELS as STYLE_MAX_INPUT_PIXELS
from gen_app.worker import private_bytes

FACES_P95_FLOOR = TEXT_P95_FLOOR = 5.0  # seconds, with 32 users on this 2-core machine (issue 17)
RSS_FLOOR_GB = 2.5
# The users stand in for browsers on other machines, whose CPU a real server never pays: here they run on the app's
# two cores (~20 s of CPU a run), so they take it after the app's quick models (nice 0) and its own threads (nice
# 5, gen_app.device.APP_NICE), and before its long work (15). At nice 0 their 32 threads took as much CPU as the
# quick models' process.
CLIENT_NICE = 10
SOAK_DRIFT_FLOOR_MB = 50
PHOTO = ROOT / "gen_app/style/examples/chelsea.jpg"
SMALL_PHOTO = ROOT / "gen_app/sr/examples/chelsea-small.png"
PAINTING = ROOT / "gen_app/style/styles/great_wave.jpg"

SERVER = """
import sys
from gen_app.app import LAUNCH_OPTIONS, build_demo
from gen_app.device import limit_malloc_arenas
from gen_app.logs import configure_logging
limit_malloc_arenas()  # as app.py does
configure_logging()  # request_end lines with each request's time in the app (its queue wait excluded)
demo = build_demo()
demo.launch(server_name="127.0.0.1", server_port=int(sys.argv[1]), quiet=True, **LAUNCH_OPTIONS)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_rss(pid: int) -> int:
    """Resident memory of the process `pid` in bytes (Linux /proc), 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def memory_parts(pid: int) -> tuple[int, int]:
    """(RSS of the app's process `pid`, the private memory of its children) in bytes. The children's private pages
    are theirs alone; what they share with the app (PyTorch's libraries, the pages inherited by fork) is counted
    once, in the app's RSS."""
    return process_rss(pid), sum(private_bytes(child) for child in children(pid))


def rss_bytes(pid: int) -> int:
    """The app's resident memory: its process's RSS plus its worker's private memory (`memory_parts`)."""
    return sum(memory_parts(pid))


def children(pid: int) -> list[int]:
    """The child processes of `pid` (the app's worker process, gen_app.worker)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process `pid` and its children have used so far (Linux /proc)."""
    total = 0.0
    for process in [pid, *children(pid)]:
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime and stime
    return total


def folder_bytes(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file():
                total += path.stat().st_size
        except OSError:
            pass  # removed while we walked
    return total


class Sampler(threading.Thread):
    """Samples the server's RSS and the cache folder's size until stopped; keeps the peaks."""

    def __init__(self, pid: int, cache: Path):
        super().__init__(daemon=True)
        self.pid, self.cache = pid, cache
        self.peak_rss = self.peak_disk = 0
        self.peak_parts = (0, 0)  # the app's process, its worker
        self.peak_time = 0.0  # when the RSS peaked (time.time())
        self.stopped = threading.Event()

    def run(self) -> None:
        ticks, worker = 0, 0
        while not self.stopped.wait(0.05):
            if ticks % 10 == 0:  # the worker's private memory costs more to read (and moves less): twice a second
                worker = sum(private_bytes(child) for child in children(self.pid))
            parts = (process_rss(self.pid), worker)
            if sum(parts) > self.peak_rss:
                self.peak_rss, self.peak_parts, self.peak_time = sum(parts), parts, time.time()
            ticks += 1
            if ticks % 20 == 0:  # walking the folder costs more: once a second
                self.peak_disk = max(self.peak_disk, folder_bytes(self.cache))


def start_server(cache: Path, log: Path | None = None) -> tuple[subprocess.Popen, str]:
    """The app in a child process; its log lines go to `log` if given."""
    port = free_port()
    env = {**os.environ, "GRADIO_TEMP_DIR": str(cache), "GRADIO_ANALYTICS_ENABLED": "False"}
    stderr = log.open("w") if log else None
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], cwd=ROOT, env=env, stderr=stderr)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 600
    while time.time() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the app exited during start-up (code {server.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server, url
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("the app did not start within 10 minutes")


def largest_photo(path: Path, pixels: int, channels: int = 3) -> Path:
    """A smooth (photo-like, so its file stays small: the app takes uploads up to 25 MB) image of `pixels` pixels,
    square, saved in the format of `path`'s suffix."""
    side = int(pixels**0.5)
    noise = np.random.default_rng(0).integers(0, 256, (side // 8, side // 8, channels), dtype=np.uint8)
    Image.fromarray(noise).resize((side, side), Image.BICUBIC).save(path)
    return path


def requests_by_tab(heavy_photo: Path, heavy_style_photo: Path):
    """(endpoint, args) makers: the five tabs' default requests, and the two heaviest legal requests."""
    from gradio_client import handle_file

    return {
        "generate_faces": lambda i: ((1000 + i, 8, 1.0), {}),
        "generate_text": lambda i: (("ROMEO:\n", 300, 0.8, 0, 1.0, 1.0, i), {}),
        "stylize": lambda i: ((handle_file(str(PHOTO)), "starry_night", 1.0, "", 0.5, False, 768), {}),
        "upscale": lambda i: ((handle_file(str(SMALL_PHOTO)), 4), {}),
        "compose": lambda i: ((i, 0.8, 16), {}),
        "stylize_any": lambda i: (
            (
                handle_file(str(heavy_style_photo)),
                handle_file(str(PAINTING)),
                ANY_STYLE_STEPS_RANGE[1],
                ANY_STYLE_SIDES[-1],
                False,
            ),
            {},
        ),
        "upscale_largest": lambda i: ((handle_file(str(heavy_photo)), 4), {"api_name": "upscale"}),
    }


class Visitor:
    """One user's connection to the app, as lean as a browser's: uploads, calls and file downloads over one kept-alive
    HTTP connection, through the app's documented REST routes (`/gradio_api/upload`, `/gradio_api/call/<api>`, the
    `file=` route). gradio_client takes a thread per job and a stream per client, and hashes and writes every file:
    with 32 users that took half a core of this machine's two during the first round, from the app it measures."""

    def __init__(self, url: str, timeout: float, api: dict) -> None:
        self.timeout = timeout  # for a whole call: a stream that keeps sending heartbeats has no read timeout
        self.http = httpx.Client(base_url=url, timeout=timeout)
        self.api = api  # the app's /gradio_api/info: each endpoint's parameters and their defaults

    @classmethod
    def api_of(cls, url: str) -> dict:
        return httpx.get(f"{url}gradio_api/info", timeout=60).raise_for_status().json()["named_endpoints"]

    def complete(self, api_name: str, args: tuple) -> list:
        """`args` followed by the defaults of the parameters they leave out (as gradio_client fills them in)."""
        parameters = self.api[f"/{api_name}"]["parameters"]
        return [*args, *(p["parameter_default"] for p in parameters[len(args) :])]

    def upload(self, path: str) -> dict:
        """A local file sent as an upload: the FileData the app's inputs take."""
        with open(path, "rb") as file:
            response = self.http.post("gradio_api/upload", files={"files": (Path(path).name, file)})
        response.raise_for_status()
        return {"path": response.json()[0], "meta": {"_type": "gradio.FileData"}}

    def call(self, api_name: str, args: tuple) -> list:
        """The endpoint's final output (a streaming one's last update); its files are fetched, not kept."""
        deadline = time.monotonic() + self.timeout
        from gradio_client.utils import is_file_obj_with_meta

        data = [self.upload(a["path"]) if is_file_obj_with_meta(a) else a for a in args]
        data = self.complete(api_name, tuple(data))
        posted = self.http.post(f"gradio_api/call/{api_name}", json={"data": data})
        posted.raise_for_status()
        event, output = None, None
        with self.http.stream("GET", f"gradio_api/call/{api_name}/{posted.json()['event_id']}") as stream:
            stream.raise_for_status()
            for line in stream.iter_lines():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{api_name}: no result after {self.timeout:g} s")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    output = json.loads(line[5:])
                    break
        if event != "complete":
            raise RuntimeError(f"{api_name}: {output if event == 'error' else 'no result'}")
        for url in file_urls(output):
            self.http.get(url).raise_for_status()
        return output


def file_urls(output: object) -> list[str]:
    """The URLs of the files in an endpoint's output (as the API returns it)."""
    from gradio_client.utils import is_file_obj_with_meta, traverse

    urls: list[str] = []
    traverse(output, lambda file: urls.append(file["url"]) if file.get("url") else None, is_file_obj_with_meta)
    return urls


def user(
    index: int,
    visitor: Visitor,
    endpoints: list[str],
    makers,
    think: float,
    deadline: float,
    results,
    lock,
) -> None:
    """One user's requests, one after another: each ends when its result and the result's files have arrived."""
    pause = random.Random(index)  # the same pauses in every run
    for n, name in enumerate(endpoints):
        if n and think:
            time.sleep(pause.uniform(0.5 * think, 1.5 * think))
        if time.time() > deadline:
            return
        args, options = makers[name](n)
        api_name = options.get("api_name", name)
        started = time.perf_counter()
        try:
            visitor.call(api_name, args)
            error = None
        except Exception as failure:  # an error or a timeout: counted, and the run goes on
            error = f"{type(failure).__name__}: {str(failure)[:120]}"
        with lock:
            results[name].append((time.perf_counter() - started, error))


def seconds_in_app(log: Path) -> dict[str, list[float]]:
    """Per endpoint, each request's time from the start of its work to its end (the app's request_end lines): the
    latency minus the wait in the queue."""
    found: dict[str, list[float]] = defaultdict(list)
    for line in log.read_text(errors="replace").splitlines():
        if "event=request_end" in line:
            fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
            found[fields.get("api", "?")].append(float(fields.get("seconds", "nan")))
    return found


def running_at(log: Path, moment: float) -> list[str]:
    """The endpoints of the requests that had started and not yet ended at `moment` (time.time()), from the app's
    log: what the memory peak was made of."""
    import calendar

    def stamp(fields: dict) -> float:
        whole, millis = fields["ts"].rstrip("Z").split(".")
        return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + int(millis) / 1000

    started: dict[str, tuple[str, float]] = {}
    ended: dict[str, float] = {}
    for line in log.read_text(errors="replace").splitlines():
        if "event=request_start" in line or "event=request_end" in line:
            fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
            if "event=request_start" in line:
                started[fields["rid"]] = (fields.get("api", "?"), stamp(fields))
            else:
                ended[fields["rid"]] = stamp(fields)
    return sorted(api for rid, (api, t) in started.items() if t <= moment < ended.get(rid, math.inf))


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="requests per user")
    parser.add_argument("--think", type=float, default=0.0, help="seconds a user waits after a result, on average")
    parser.add_argument("--heavy", action="store_true", help="two users send the largest legal requests")
    parser.add_argument(
        "--tabs",
        default="generate_faces,generate_text,stylize,upscale,compose",
        help="the endpoints users take in turn",
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed for one request")
    parser.add_argument("--max-seconds", type=float, default=1800, help="the load phase stops after this")
    parser.add_argument("--soak", type=int, default=0, help="then this many light requests, one at a time")
    parser.add_argument(
        "--client-nice",
        type=int,
        default=CLIENT_NICE,
        help="the users' niceness here (0: they compete with the app's quick models for the CPU)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--app-log", type=Path, help="keep the app's log here (default: removed at the end)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="gen_app_load_"))
    cache = work / "gradio"
    heavy_photo = largest_photo(work / "largest.png", max_input_pixels(4))
    heavy_style_photo = largest_photo(work / "largest-style.jpg", STYLE_MAX_INPUT_PIXELS)  # as a camera saves it

    log = args.app_log or work / "app.log"
    server, url = start_server(cache, log)
    print(f"app at {url} (pid {server.pid}), cache {cache}", flush=True)
    os.nice(args.client_nice)  # this process only: the app, started above, keeps its own priorities
    try:
        api = Visitor.api_of(url)
        Visitor(url, args.timeout, api).call("generate_faces", (1, 1, 1.0))  # warm-up
        idle_rss = rss_bytes(server.pid)
        sampler = Sampler(server.pid, cache)
        sampler.start()
        makers = requests_by_tab(heavy_photo, heavy_style_photo)
        tabs = args.tabs.split(",")
        plans = [[tabs[i % len(tabs)]] * args.rounds for i in range(args.clients)]
        if args.heavy:
            plans[-1] = ["stylize_any"] * args.rounds
            plans[-2] = ["upscale_largest"] * args.rounds
        # Every user opens the app first (the page's config), then all start at once.
        visitors = [Visitor(url, args.timeout, api) for _ in plans]
        for visitor in visitors:
            visitor.http.get("config").raise_for_status()
        results: dict[str, list] = defaultdict(list)
        lock = threading.Lock()
        deadline = time.time() + args.max_seconds
        started, started_wall = time.perf_counter(), time.time()
        server_cpu, own_cpu = cpu_seconds(server.pid), time.process_time()
        users = [
            threading.Thread(
                target=user,
                args=(i, visitor, plan, makers, args.think, deadline, results, lock),
            )
            for i, (visitor, plan) in enumerate(zip(visitors, plans, strict=True))
        ]
        for thread in users:
            thread.start()
        for thread in users:
            thread.join()
        load_seconds = time.perf_counter() - started
        server_cpu, own_cpu = cpu_seconds(server.pid) - server_cpu, time.process_time() - own_cpu
        time.sleep(1)
        figures = {
            "clients": args.clients,
            "rounds": args.rounds,
            "think_seconds": args.think,
            "heavy": args.heavy,
            "load_seconds": round(load_seconds, 1),
            "cpu_count": os.cpu_count(),
            "idle_rss_gb": round(idle_rss / 1e9, 3),
            "server_cpu_seconds": round(server_cpu, 1),
            "load_generator_cpu_seconds": round(own_cpu, 1),
            "endpoints": {},
        }
        print(
            f"\n{args.clients} users × {args.rounds} requests{' (with the heaviest)' if args.heavy else ''}, "
            f"{load_seconds:.0f} s; CPU time used by the app {server_cpu:.0f} s, by this load generator {own_cpu:.0f} s"
        )
        # "in app": from the start of the request's work to its end, i.e. without the wait in its queue (the app's
        # log counts by endpoint, so the largest upscales are in "upscale"'s figures there).
        in_app = seconds_in_app(log)
        print(f"{'':27} {'latency':>15}  {'in app':>15}")
        print(f"{'endpoint':18} {'requests':>8} {'errors':>6} {'p50 s':>7} {'p95 s':>7}  {'p50 s':>7} {'p95 s':>7}")
        for name, rows in sorted(results.items()):
            times = [t for t, error in rows if error is None]
            errors = [error for _, error in rows if error is not None]
            p50, p95 = percentile(times, 50), percentile(times, 95)
            work = in_app.get(name, []) if name in in_app else []
            figures["endpoints"][name] = {
                "requests": len(rows),
                "errors": len(errors),
                "p50": p50,
                "p95": p95,
                "in_app_p50": percentile(work, 50),
                "in_app_p95": percentile(work, 95),
            }
            print(
                f"{name:18} {len(rows):8d} {len(errors):6d} {p50:7.2f} {p95:7.2f}  "
                f"{percentile(work, 50):7.2f} {percentile(work, 95):7.2f}"
            )
            for error in sorted(set(errors))[:3]:
                print(f"    {error}")

        if args.soak:
            soak = ["generate_faces", "generate_text", "stylize", "upscale"]
            visitor = Visitor(url, args.timeout, api)
            for n in range(min(40, args.soak)):  # warm-up: every kind of request, so caches fill first
                name = soak[n % len(soak)]
                visitor.call(name, makers[name](n)[0])
            after_warm_up = rss_bytes(server.pid)
            trace = []  # RSS after each request
            for n in range(args.soak):
                name = soak[n % len(soak)]
                visitor.call(name, makers[name](n)[0])
                trace.append(rss_bytes(server.pid))
            quarters = [trace[max(0, len(trace) * q // 4 - 1)] for q in (1, 2, 3, 4)]
            figures["soak"] = {
                "requests": args.soak,
                "rss_after_warm_up_gb": round(after_warm_up / 1e9, 3),
                "rss_at_quarters_gb": [round(r / 1e9, 3) for r in quarters],
                "rss_range_mb": round((max(trace) - min(trace)) / 1e6, 1),
                "drift_mb": round((trace[-1] - after_warm_up) / 1e6, 1),
                "drift_second_half_mb": round((trace[-1] - trace[len(trace) // 2 - 1]) / 1e6, 1),
            }
            print(
                f"\nsoak: {args.soak} requests; RSS {after_warm_up / 1e9:.3f} GB after warm-up, then at each quarter "
                + ", ".join(f"{r / 1e9:.3f}" for r in quarters)
                + f" GB (drift {(trace[-1] - after_warm_up) / 1e6:+.0f} MB, over the second half "
                f"{figures['soak']['drift_second_half_mb']:+.0f} MB; range {(max(trace) - min(trace)) / 1e6:.0f} MB)"
            )
        sampler.stopped.set()
        sampler.join()
        end_disk = folder_bytes(cache)
        figures.update(
            peak_rss_gb=round(sampler.peak_rss / 1e9, 3),
            peak_cache_mb=round(max(sampler.peak_disk, end_disk) / 1e6, 1),
            end_cache_mb=round(end_disk / 1e6, 1),
        )
        at_peak = running_at(log, sampler.peak_time)
        figures["running_at_peak_rss"] = at_peak
        print(
            f"\nserver RSS: {idle_rss / 1e9:.2f} GB after start-up, peak {sampler.peak_rss / 1e9:.2f} GB "
            f"(the app's process {sampler.peak_parts[0] / 1e9:.2f}, its workers {sampler.peak_parts[1] / 1e9:.2f}) "
            f"(floor {RSS_FLOOR_GB} GB), at {sampler.peak_time - started_wall:.0f} s with: {', '.join(at_peak)}"
        )
        print(f"cache folder: peak {figures['peak_cache_mb']:.0f} MB, at the end {end_disk / 1e6:.0f} MB")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
