"""Many users at once: quick requests stay quick while long ones run, and the largest legal request stays within
the memory budget. The figures under load come from bench/load.py (README: "Many users at once")."""

from __future__ import annotations

import contextvars
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from gen_app import worker
from gen_app.device import (
    LONG_WORKERS,
    LOW_PRIORITY_NICE,
    PROCESS_NICE,
    app_priority,
    app_work_nice,
    limit_malloc_arenas,
    low_priority,
    release_free_memory,
)
from gen_app.ui import CONCURRENT, LONG_QUEUES, QUEUES

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT / "gen_app/style/examples/chelsea.jpg"
PAINTING = ROOT / "gen_app/style/styles/great_wave.jpg"


def test_every_model_event_queues_by_its_kind(app_demo):
    queued = {fn.api_name: fn.concurrency_id for fn in app_demo.fns.values() if fn.queue and fn.fn is not None}
    model_events = {name: queue for name, queue in queued.items() if queue in QUEUES}
    assert {"generate_faces", "generate_text", "stylize", "stylize_any", "upscale", "compose"} <= set(model_events)
    limits = {fn.concurrency_id: fn.concurrency_limit for fn in app_demo.fns.values() if fn.concurrency_id in QUEUES}
    assert limits == {queue: CONCURRENT.get(queue, 1) for queue in limits}
    assert limits["text"] > 1  # text requests run together: the sampler batches them
    long_kinds = {model_events["stylize_any"], model_events["upscale"]}
    assert model_events["generate_faces"] not in long_kinds and model_events["generate_text"] not in long_kinds


def test_long_kinds_run_at_low_priority_and_quick_ones_do_not(app_demo):
    for fn in app_demo.fns.values():
        if fn.concurrency_id in QUEUES and fn.fn is not None:
            assert getattr(fn.fn, "low_priority", False) == (fn.concurrency_id in LONG_QUEUES), fn.api_name
    assert LONG_WORKERS >= sum(CONCURRENT.get(queue, 1) for queue in LONG_QUEUES)  # a thread for each running one


REQUEST = contextvars.ContextVar("request", default=None)


def niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_low_priority_runs_in_a_lower_priority_thread_with_the_callers_context():
    @low_priority
    def where(x):
        return x, niceness(), REQUEST.get()

    @low_priority
    def count(n):
        for i in range(n):
            yield i, niceness()

    @low_priority
    def fail():
        raise ValueError("bad input")

    REQUEST.set("request 7")
    assert where(3) == (3, min(19, PROCESS_NICE + app_work_nice() + LOW_PRIORITY_NICE), "request 7")
    assert [i for i, _ in count(4)] == [0, 1, 2, 3]
    assert all(nice > niceness() for _, nice in count(2))
    with pytest.raises(ValueError, match="bad input"):
        fail()


def test_app_priority_runs_below_the_server_and_above_long_work(app_demo):
    """Once an app with a worker is built, the app's heavy work (a preset style, a file check) runs at APP_NICE,
    long work lower still, and the thread that built it (and the server's threads it starts) keeps its priority."""

    @app_priority
    def where(x):
        return x, niceness(), REQUEST.get()

    @app_priority
    def count(n):
        yield from range(n)

    REQUEST.set("request 8")
    # The server's threads keep the process's niceness: they carry every quick request's upload, stream and download.
    assert niceness() == PROCESS_NICE
    if worker.current() is not None:  # a worker only on a CPU (gen_app.worker.wanted)
        assert app_work_nice() > 0
    assert where(3) == (3, PROCESS_NICE + app_work_nice(), "request 8")
    assert list(count(3)) == [0, 1, 2]


def test_a_stopped_stream_stops_its_generator():
    produced = []

    @low_priority
    def endless():
        for i in range(10_000):
            produced.append(i)
            yield i

    stream = endless()
    assert next(stream) == 0
    stream.close()  # what Stop does
    time.sleep(0.5)
    assert len(produced) < 100


def test_a_quick_request_does_not_wait_for_a_long_one(app_url):
    client = Client(app_url, verbose=False, httpx_kwargs={"timeout": 120})  # a busy CI machine answers slowly
    long = client.submit(handle_file(str(PHOTO)), handle_file(str(PAINTING)), 300, 512, False, api_name="/stylize_any")
    deadline = time.time() + 120
    while not long.outputs() and time.time() < deadline:  # the optimisation is running (its first preview is out)
        time.sleep(0.1)
    assert long.outputs(), "the optimisation did not start"
    try:
        gallery, _ = client.predict(3, 2, 1.0, api_name="/generate_faces")
        text, _ = client.predict("ROMEO:\n", 20, 0.8, 0, 1.0, 1.0, 1, api_name="/generate_text")
        assert len(gallery) == 2 and len(text) > len("ROMEO:\n")
        assert not long.done()  # both were served while the optimisation still ran
    finally:
        long.cancel()


LARGEST_UPSCALE = """
import resource, sys
import numpy as np
from PIL import Image
from gen_app.sr.pipeline import SRPipeline, max_input_pixels
from gen_app.images import save_png
from gen_app.sr.tab import comparison

side = int(max_input_pixels(4) ** 0.5)
noise = np.random.default_rng(0).integers(0, 256, (side // 8, side // 8, 4), dtype=np.uint8)
Image.fromarray(noise, "RGBA").resize((side, side), Image.BICUBIC).save(sys.argv[1])
pipe = SRPipeline.load()
loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
result = pipe.upscale(sys.argv[1], 4)
comparison(result.original, result.image)
save_png(result.image, sys.argv[2], {"scale": 4})
print(loaded, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


@pytest.mark.slow
def test_the_largest_legal_upscale_fits_the_memory_budget(tmp_path):
    """×4 of a 1024×1024 RGBA photo (the input limit at ×4; RGBA takes two passes): the tab's whole path, in a fresh
    process, adds under 0.5 GB to the loaded models (the app's budget, 2.5 GB, holds every tab's models and
    the other requests running beside it: bench/load.py measures that)."""
    run = subprocess.run(
        [sys.executable, "-c", LARGEST_UPSCALE, str(tmp_path / "in.png"), str(tmp_path / "out.png")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    loaded, peak = (int(n) / 1e9 for n in run.stdout.split()[-2:])
    # Before: 2048x2048 was legal at x4, with a float copy of the result per pass (805 MB each) and a bicubic copy
    # for the slider. Now the limit and 8-bit tiles keep it to a few hundred MB.
    assert peak - loaded < 0.5, f"the upscale took {peak - loaded:.2f} GB on top of {loaded:.2f} GB"


def test_malloc_arenas_can_be_limited_and_free_memory_released():
    assert limit_malloc_arenas() == sys.platform.startswith("linux")  # glibc: one call, before the threads
    assert release_free_memory() == sys.platform.startswith("linux")  # after each long request


def test_a_stream_is_sent_at_most_ten_times_a_second_with_its_first_and_last_update():
    from gen_app.ui import STREAM_SECONDS, throttled

    def updates():
        for i in range(50):
            time.sleep(STREAM_SECONDS / 10)
            yield i

    sent = list(throttled(updates()))
    assert sent[0] == 0 and sent[-1] == 49 and sent == sorted(sent)
    assert 3 <= len(sent) <= 8  # 50 updates over ~0.5 s: about one per STREAM_SECONDS, not 50
    assert list(throttled(iter([1]))) == [1] and list(throttled(iter([]))) == []


def test_long_work_waits_at_its_safe_points_while_quick_work_runs():
    """Threads share the GIL: a low-priority thread running Python code slows a quick request's many short PyTorch
    calls (12x measured), so long work pauses at its safe points while quick work runs; other threads never do."""
    from gen_app.device import long_request_threads, quick_work, yield_to_quick_work

    assert yield_to_quick_work() == 0.0  # nothing quick running
    with quick_work():
        assert yield_to_quick_work() == 0.0  # a normal-priority thread does not wait
        waited = long_request_threads().submit(yield_to_quick_work)
        time.sleep(0.5)
        assert not waited.done()  # the low-priority thread is waiting for the quick work to end
    assert 0.4 < waited.result(timeout=5) < 5
    assert long_request_threads().submit(yield_to_quick_work).result(timeout=5) == 0.0


def test_large_memory_work_runs_one_at_a_time():
    """An any-style optimisation and a large upscale take hundreds of MB each: they take turns (bench/load.py's
    memory budget), while work that does not need to wait does not."""
    from gen_app.device import large_memory_work

    inside, most = [0], [0]
    lock = threading.Lock()

    def work():
        with large_memory_work():
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.5)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while not inside[0] and time.monotonic() < deadline:
        time.sleep(0.01)
    with large_memory_work(needed=False):  # runs at once, beside the large work
        assert inside[0] == 1
    for thread in threads:
        thread.join()
    assert most[0] == 1


def test_the_load_generator_gets_what_a_page_gets(app_url):
    """bench/load.py's users speak the app's REST routes themselves (upload, call, stream, file downloads): a text
    streams to its end, an upscale uploads a photo and fetches the result's files, a bad value comes back as the
    app's message."""
    from bench.load import SMALL_PHOTO, Visitor, file_urls

    visitor = Visitor(app_url, 120, Visitor.api_of(app_url))
    text, seed = visitor.call("generate_text", ("ROMEO:\n", 20, 0.8, 0, 1.0, 1.0, 3))
    assert text.startswith("ROMEO:\n") and len(text) > len("ROMEO:\n") and seed == 3
    upscaled = visitor.call("upscale", (handle_file(str(SMALL_PHOTO)), 4))  # the other inputs: their defaults
    assert file_urls(upscaled)
    with pytest.raises(RuntimeError, match="Seed"):
        visitor.call("generate_text", ("ROMEO:\n", 20, 0.8, 0, 1.0, 1.0, -5))


def test_sessions_are_bounded_and_keep_nothing_the_app_needs(app_demo, app_url):
    """Gradio keeps a copy of the app's component configs per session; a client that opens a session per call (the
    REST route) must not grow the app without bound (bench/load.py --soak: +0.4 GB over 1,000 calls before)."""
    import tracemalloc

    from gradio.state_holder import SessionState

    from gen_app.app import SESSIONS_KEPT

    assert app_demo.state_holder.capacity == SESSIONS_KEPT
    assert not [block for block in app_demo.blocks.values() if block.stateful]  # evicting a session loses nothing
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [SessionState(app_demo) for _ in range(4)]
    per_session = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    tracemalloc.stop()
    assert SESSIONS_KEPT * per_session < 50e6, f"{per_session / 1e3:.0f} kB per session"  # the soak floor: ±50 MB
    # At the bound, each new session makes the oldest go, and calls (each in a new session) go on working.
    from bench.load import Visitor

    visitor = Visitor(app_url, 60, Visitor.api_of(app_url))
    holder = app_demo.state_holder
    bound = max(2, len(holder.session_data))  # the sessions earlier tests opened
    capacity, holder.capacity = holder.capacity, bound
    try:
        for seed in range(4):
            faces, first_seed = visitor.call("generate_faces", (seed, 1, 1.0))
            assert first_seed == seed and len(faces) == 1
            assert len(holder.session_data) <= bound
    finally:
        holder.capacity = capacity
