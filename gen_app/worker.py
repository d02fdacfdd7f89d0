"""Quick models (faces, text) in worker processes of their own, one per model, so that they do not share Python's
GIL with the server or with each other.

Why: in one process, the text sampler and the face models took turns on the GIL with Gradio's event loop and every
request's thread. PyTorch gives the GIL up at each operation, and a step of the sampler is a few hundred small
operations: under 32 users (bench/load.py) it spent most of its time waiting to take the GIL back (py-spy), and a
batch of texts took 4x its time alone, with no long request running at all. A process has a GIL of its own. With
faces and text in one worker, the sampler still took turns with two face requests' threads; apart, the text p95 under
bench/load.py was 3.2-4.0 s in five runs, against 3.6-4.6 s in five runs of the shared worker, taken in turn.

How: `start()` forks the workers (PROCESSES) from the app's process before the app loads any model, so that they
share, copy on write, the ~300 MB that importing PyTorch takes. `hosted(name, factory)` builds an object in the
worker for `name` (e.g. `FacePipeline.load`) and returns a proxy: its attributes are read there, and its methods run
there, each call in a thread of its own (so calls run together, as in one process), a generator's items streamed
back as they come.
Values go by pickle. Without a worker (on a GPU or a ZeroGPU Space, with GEN_APP_WORKER=0, or for a tab built
outside `gen_app.app.build_demo`), or once it has died, the object is built here and called directly.

The worker runs PyTorch on one thread: GNU OpenMP hangs in a forked child whose parent has already used it with more
(as a test session has), and one thread is what a quick request should take on a shared CPU anyway.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import logging
import multiprocessing
import os
import pickle
import queue
import signal
import sys
import threading
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from gen_app import loading
from gen_app.device import lower_app_work, pick_device

log = logging.getLogger(__name__)


class WorkerGone(RuntimeError):
    """The worker process ended while a call was running in it."""


GONE = "The model's worker process stopped; try again."


def private_bytes(pid: int) -> int:
    """The memory only the process `pid` uses: its private pages (what it shares with its parent, e.g. the pages a
    fork inherited, is in the parent's RSS). 0 off Linux or once it has ended. Costly: ~13 ms of CPU for a process
    that has imported PyTorch."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    return sum(int(line.split()[1]) * 1024 for line in rollup.splitlines() if line.startswith("Private_"))


def wanted() -> bool:
    """Whether this app should run its quick models in a worker: on the CPU, where fork exists, unless
    GEN_APP_WORKER=0. (A GPU needs no help from the OS scheduler; ZeroGPU runs model calls in its own processes.)"""
    if os.environ.get("GEN_APP_WORKER", "1") == "0" or not hasattr(os, "fork") or "spaces" in sys.modules:
        return False
    return pick_device().type == "cpu"


def _portable(error: BaseException) -> BaseException:
    """`error` if it survives pickling (InvalidInput, ModelLoadError...), else a RuntimeError that says what it was."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")


def _serve(connection, parents_end) -> None:
    """The worker's main loop: read requests, run each in a thread of its own, send the replies."""
    parents_end.close()  # else the pipe stays open when the app ends, and the worker would wait on it for ever
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the app; the worker ends when its pipe closes
    torch.set_num_threads(1)
    objects: dict[str, Any] = {}
    stopped: set[int] = set()  # streamed calls whose consumer has gone
    send_lock = threading.Lock()

    def send(call_id: int, kind: str, value: object = None) -> None:
        with send_lock:
            connection.send((call_id, kind, value))

    def run(kind: str, call_id: int, name: str, payload: tuple) -> None:
        try:
            if kind == "build":
                factory, args, hub = payload
                loading.set_hub_state(hub)  # the app's probe and time spent so far: one budget for both processes
                failure = None
                try:
                    objects[name] = factory(*args)
                except Exception as error:
                    failure = _portable(error)
                send(call_id, "value", (failure, dict(loading.LOAD_STATES), loading.hub_state()))
                return
            if kind == "get":
                value = getattr(objects[name], payload[0])
                send(call_id, "method" if callable(value) else "value", None if callable(value) else value)
                return
            attribute, args, kwargs = payload
            result = getattr(objects[name], attribute)(*args, **kwargs)
            if not isinstance(result, types.GeneratorType):
                send(call_id, "value", result)
                return
            for item in result:
                if call_id in stopped:
                    result.close()
                    break
                send(call_id, "item", item)
            send(call_id, "end")
        except Exception as error:
            if not isinstance(error, loading.ModelLoadError | ValueError):  # InvalidInput is a ValueError
                log.exception("%s.%s failed in the worker", name, payload[0] if payload else kind)
            send(call_id, "error", _portable(error))
        finally:
            stopped.discard(call_id)

    while True:
        try:
            kind, call_id, name, payload = connection.recv()
        except (EOFError, OSError):  # the app has gone
            os._exit(0)
        if kind == "exit":  # Worker.stop: the app is ending
            os._exit(0)
        if kind == "stop":
            stopped.add(call_id)
        else:
            threading.Thread(target=run, args=(kind, call_id, name, payload), daemon=True).start()


class Worker:
    """The parent's end: sends requests, and a reader thread hands each reply to the call that waits for it."""

    def __init__(self, name: str = "quick") -> None:
        context = multiprocessing.get_context("fork")
        here, there = context.Pipe()
        self.process = context.Process(target=_serve, args=(there, here), name=f"gen_app-{name}", daemon=True)
        self.process.start()
        there.close()
        self.connection = here
        self.send_lock = threading.Lock()
        self.replies: dict[int, queue.SimpleQueue] = {}
        self.call_ids = itertools.count()
        self.alive = True
        threading.Thread(target=self._read, name="gen_app-worker-replies", daemon=True).start()
        log.info("quick models run in worker process %d", self.process.pid)

    def _read(self) -> None:
        while True:
            try:
                call_id, kind, value = self.connection.recv()
            except (EOFError, OSError):
                break
            waiting = self.replies.get(call_id)
            if waiting is not None:
                waiting.put((kind, value))
        if not self.alive:  # stopped on purpose (the app is ending)
            return
        self.alive = False
        log.error("the worker process has ended; quick models now run in the app's process")
        for waiting in list(self.replies.values()):
            waiting.put(("error", WorkerGone(GONE)))

    def send(self, kind: str, name: str, *payload: object) -> tuple[int, queue.SimpleQueue]:
        call_id = next(self.call_ids)
        replies = self.replies[call_id] = queue.SimpleQueue()
        if not self._post((kind, call_id, name, payload)):
            replies.put(("error", WorkerGone(GONE)))
        return call_id, replies

    def _post(self, message: tuple) -> bool:
        """Send `message` to the worker; False if it has gone (or its pipe is closed)."""
        if not self.alive:
            return False
        try:
            with self.send_lock:
                self.connection.send(message)
            return True
        except (OSError, ValueError):  # a closed pipe
            return False

    def ask(self, kind: str, name: str, *payload: object) -> tuple[str, object]:
        """Send a request and wait for its (first) reply."""
        call_id, replies = self.send(kind, name, *payload)
        try:
            return replies.get()
        finally:
            self.replies.pop(call_id, None)

    def call(self, name: str, attribute: str, args: tuple, kwargs: dict) -> object:
        call_id, replies = self.send("call", name, attribute, args, kwargs)
        kind, value = replies.get()
        if kind == "item":
            return self._stream(call_id, replies, value)
        self.replies.pop(call_id, None)
        if kind == "error":
            raise value
        return iter(()) if kind == "end" else value

    def _stream(self, call_id: int, replies: queue.SimpleQueue, first: object) -> Iterator:
        ended = False
        try:
            yield first
            while True:
                kind, value = replies.get()
                if kind == "item":
                    yield value
                    continue
                ended = True
                if kind == "error":
                    raise value
                return
        finally:
            self.replies.pop(call_id, None)
            if not ended:  # the consumer stopped early: so does the generator in the worker
                self._post(("stop", call_id, "", ()))

    def private_bytes(self) -> int:
        """The memory only the worker uses (`private_bytes`)."""
        return private_bytes(self.process.pid)

    def stop(self) -> None:
        """End the worker (at exit). It is asked to: it would also leave when its pipe closes, but closing the pipe
        here does not close it while the reader thread waits on it."""
        self._post(("exit", -1, "", ()))
        self.alive = False
        self.connection.close()
        self.process.join(timeout=5)


# One process per quick model (see the module's docstring); a model not named here runs in the first one.
PROCESSES = ("faces", "text")


class Workers:
    """The quick models' processes, one per name in PROCESSES, all forked at once (`start`)."""

    def __init__(self, names: tuple[str, ...] = PROCESSES) -> None:
        self.by_name = {name: Worker(name) for name in names}

    def for_model(self, name: str) -> Worker:
        """The process that hosts the model `name`."""
        return self.by_name.get(name) or next(iter(self.by_name.values()))

    @property
    def alive(self) -> bool:
        return any(one.alive for one in self.by_name.values())

    def private_bytes(self) -> int:
        """The memory only the workers use (`private_bytes`), all together."""
        return sum(one.private_bytes() for one in self.by_name.values() if one.alive)

    def stop(self) -> None:
        for one in self.by_name.values():
            one.stop()


_workers: Workers | None = None


def current() -> Workers | None:
    """The workers of the app built last, if one of them is running."""
    return _workers if _workers is not None and _workers.alive else None


def start() -> Workers | None:
    """Fork the workers for an app being built, if this app wants them (`wanted`); the objects `hosted` builds from
    now on live there. Each starts as a copy of this process as it is now (settings, environment, what tests
    patched), so call it first, before any model loads. An earlier app keeps its own workers (`Workers.stop` ends
    them)."""
    global _workers
    _workers = Workers() if wanted() else None
    if _workers is not None:
        atexit.register(_workers.stop)
        lower_app_work()  # the app's own heavy work, from here on, gives the CPU to the workers' first
    return _workers


class Hosted:
    """A proxy for an object that lives in the worker: attributes are read from it, methods run in it. Falls back to
    a local copy of the object (built by the same factory) when the worker has gone."""

    def __init__(self, worker: Worker, name: str, factory: Callable, args: tuple):
        self._worker, self._name, self._factory, self._args = worker, name, factory, args

    @functools.cached_property
    def _local(self) -> object:
        return self._factory(*self._args)

    def __getattr__(self, attribute: str) -> object:
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        if not self._worker.alive:
            return getattr(self._local, attribute)
        kind, value = self._worker.ask("get", self._name, attribute)
        if kind == "error":
            if isinstance(value, WorkerGone):
                return getattr(self._local, attribute)
            raise value
        if kind == "method":
            method = functools.partial(self._call, attribute)
            setattr(self, attribute, method)  # found here from now on, without asking the worker
            return method
        return value

    def _call(self, attribute: str, *args, **kwargs) -> object:
        if not self._worker.alive:
            return getattr(self._local, attribute)(*args, **kwargs)
        return self._worker.call(self._name, attribute, args, kwargs)


def hosted(name: str, factory: Callable, *args: object) -> Any:
    """`factory(*args)`, built and run in the worker (see the module's docstring), or here when there is none. Its
    errors (e.g. a ModelLoadError) are raised here, the worker's record of how models loaded is copied into
    `gen_app.loading.LOAD_STATES` (for /metrics), and the Hub's probe and time budget are shared with it."""
    workers = current()
    if workers is None:
        return factory(*args)
    worker = workers.for_model(name)
    kind, reply = worker.ask("build", name, factory, args, loading.hub_state())
    if kind == "error":  # the worker has gone
        return factory(*args)
    error, states, hub = reply
    loading.LOAD_STATES.update(states)
    loading.set_hub_state(hub)
    if error is not None:
        raise error
    return Hosted(worker, name, factory, args)
