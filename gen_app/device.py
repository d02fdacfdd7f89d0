"""Pick the compute device once for the whole app (CUDA, then Apple MPS, then the CPU), and how CPU threads are used."""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import functools
import inspect
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import torch


@functools.cache
def pick_device() -> torch.device:
    """The device every model runs on; `GEN_APP_DEVICE=cpu` (or cuda, mps) overrides the choice."""
    forced = os.environ.get("GEN_APP_DEVICE")
    if forced:
        return torch.device(forced)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@contextlib.contextmanager
def cpu_threads(count: int, device: torch.device) -> Iterator[None]:
    """Run the block with `count` intra-op CPU threads when `device` is the CPU (elsewhere: unchanged), then restore
    the setting. With PyTorch's OpenMP backend the count is kept per calling thread, so events of other queues,
    running at the same time in their own threads, keep theirs."""
    if device.type != "cpu":
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# Long requests (a style optimisation, a large upscale, a composition) run in threads the OS schedules after the
# others: on a busy CPU a face or a text still gets its share at once, and the long request takes longer. Threads
# can lower their own priority without privileges; PyTorch's OpenMP workers are made by the thread that first
# needs them, so they inherit it.
LOW_PRIORITY_NICE = 10  # below the app's own threads
LONG_WORKERS = 4  # one for each request the long queues run at once (gen_app.ui.LONG_QUEUES, CONCURRENT)
APP_WORKERS = 2  # for `app_priority` work: the preset style queue's one request at a time, and a file check
# When a worker process serves the quick models (gen_app.worker), the app's own heavy work (a preset style) runs
# APP_NICE lower, so that the worker's comes first, and long work lower still. The server's own threads (the event
# loop, uploads, streams and file downloads, Gradio's pre- and post-processing) keep the normal priority: they are
# part of every quick request's time. Measured with bench/load.py (32 users): text under load took 4.9-5.4 s (p50)
# with the app's threads at nice 5 and 6.1-6.7 s with every thread equal; the server's threads back at 0 then took
# faces from 3.1 / 4.9 s (p50 / p95) to 2.8 / 3.9 s, text from 3.6 / 5.0 to 3.7 / 4.7 s (one run each).
APP_NICE = 5
_app_nice = 0  # the niceness of the app's heavy work: APP_NICE once `lower_app_work` has run


_this_thread = threading.local()


def lower_app_work() -> None:
    """From now on, heavy work in this process (`app_priority`) runs at APP_NICE, and long work
    (`low_priority`) LOW_PRIORITY_NICE lower still."""
    global _app_nice
    _app_nice = APP_NICE


def app_work_nice() -> int:
    """The niceness of the app's heavy work (`app_priority`); long work runs LOW_PRIORITY_NICE lower."""
    return _app_nice


# The niceness the process started with (read by the importing thread): the levels above are relative to it, so an
# app started under `nice` keeps its order (as root, an absolute 5 would even raise heavy work above the server).
PROCESS_NICE = os.getpriority(os.PRIO_PROCESS, 0) if hasattr(os, "getpriority") else 0


def _lower_thread(nice: int) -> None:
    """Lower the calling thread to niceness `nice` above the process's own (a thread cannot raise itself again)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(19, PROCESS_NICE + nice))
    except (OSError, AttributeError):  # not Linux, or not allowed: the work runs at normal priority
        pass


def lower_this_thread() -> None:
    """Make the calling thread a long-work thread: LOW_PRIORITY_NICE below the app's heavy work."""
    _this_thread.low_priority = True
    _lower_thread(_app_nice + LOW_PRIORITY_NICE)


def in_low_priority_thread() -> bool:
    return getattr(_this_thread, "low_priority", False)


# The OS priority alone is not enough: threads share Python's GIL, and a quick request's thread gives the GIL up at
# every PyTorch call. A low-priority thread running Python code takes it then, and holds it for the switch interval
# (5 ms) or, when the OS has set it aside for a higher-priority thread, until it runs again: measured here, one
# such thread made a batch of texts 12x slower. So while quick work runs, long work waits at its next safe point
# (`yield_to_quick_work`: between tiles, optimisation steps, tokens, parser calls), at most LONG_WORK_MAX_WAIT at a
# time so that a stream of quick requests cannot stop it for good.
LONG_WORK_MAX_WAIT = 10.0  # seconds
_quick = threading.Condition()
_quick_running = 0


@contextlib.contextmanager
def quick_work() -> Iterator[None]:
    """Mark the block as quick work: long work in low-priority threads waits for it (see above)."""
    global _quick_running
    with _quick:
        _quick_running += 1
    try:
        yield
    finally:
        with _quick:
            _quick_running -= 1
            _quick.notify_all()


def quick(fn: Callable) -> Callable:
    """Run each call of `fn` as quick work (`quick_work`)."""

    @functools.wraps(fn)
    def marked(*args, **kwargs):
        with quick_work():
            return fn(*args, **kwargs)

    return marked


def yield_to_quick_work() -> float:
    """Called by long work at a safe point: in a low-priority thread, wait while quick work runs (at most
    LONG_WORK_MAX_WAIT). Returns the seconds waited, for time limits that count only the work's own time. Cheap
    when there is nothing to wait for (it is called on every Python call of a parse)."""
    if not _quick_running or not in_low_priority_thread():
        return 0.0
    started = time.perf_counter()
    with _quick:
        _quick.wait_for(lambda: _quick_running == 0, timeout=LONG_WORK_MAX_WAIT)
    return time.perf_counter() - started


# The long requests that take the most memory, an any-style optimisation (about 0.7 GB at 512 px) and a large
# upscale (about 0.5 GB with its watermarked PNG), run one at a time whichever queue they come from: running
# together, beside the rest, they took the server past its 2.5 GB budget (bench/load.py). The others are not held.
_large_memory = threading.Lock()


@contextlib.contextmanager
def large_memory_work(needed: bool = True) -> Iterator[None]:
    """Run the block once no other large-memory work runs (see above); `needed=False`: at once."""
    if not needed:
        yield
        return
    with _large_memory:
        yield


@functools.cache
def long_request_threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(LONG_WORKERS, thread_name_prefix="gen_app-long", initializer=lower_this_thread)


@functools.cache
def app_request_threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(
        APP_WORKERS, thread_name_prefix="gen_app-app", initializer=lambda: _lower_thread(_app_nice)
    )


def _in_threads(fn: Callable, threads: Callable[[], ThreadPoolExecutor]) -> Callable:
    """Run each call of `fn` (a function, or a generator function whose items are passed on as they come) in one of
    the `threads()` pool; the caller's context (Gradio's request, for gr.Warning and progress) goes with it. A
    consumer that stops iterating (Stop, a closed page) stops the generator at its next item. Memory freed by the
    call goes back to the OS after it (`release_free_memory`)."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def streaming(*args, **kwargs):
            items: queue.Queue = queue.Queue(maxsize=1)  # the producer runs at most one item ahead, as a generator
            stopped = threading.Event()

            def hand_over(item: tuple) -> bool:
                """Put `item` for the consumer; False once it has stopped listening."""
                while not stopped.is_set():
                    try:
                        items.put(item, timeout=0.1)
                        return True
                    except queue.Full:
                        pass
                return False

            def produce() -> None:
                try:
                    for item in fn(*args, **kwargs):
                        if not hand_over((True, item)):
                            return
                    hand_over((False, None))
                except BaseException as error:  # raised again in the caller's thread
                    hand_over((False, error))
                finally:
                    release_free_memory()

            threads().submit(contextvars.copy_context().run, produce)
            try:
                while True:
                    more, value = items.get()
                    if not more:
                        if value is not None:
                            raise value
                        return
                    yield value
            finally:
                stopped.set()

        return streaming

    def run_then_release(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        finally:
            release_free_memory()

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return threads().submit(contextvars.copy_context().run, run_then_release, *args, **kwargs).result()

    return wrapper


def low_priority(fn: Callable) -> Callable:
    """Run `fn` as long work: in a low-priority thread (see `_in_threads`)."""
    wrapped = _in_threads(fn, long_request_threads)
    wrapped.low_priority = True
    return wrapped


def app_priority(fn: Callable) -> Callable:
    """Run `fn`, heavy work that is not long, at the app's priority: after the quick models' worker and the server's
    own threads, before long work (see APP_NICE)."""
    return _in_threads(fn, app_request_threads)


M_ARENA_MAX = -8  # glibc's mallopt parameter
MALLOC_ARENAS = 2  # glibc's default is 8 per core


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return None


def release_free_memory() -> bool:
    """Give the heap's free pages back to the OS (glibc's malloc_trim). A long request frees hundreds of MB that
    glibc would otherwise keep: after an any-style optimisation, RSS fell from 0.96 to 0.76 GB with this, so the
    next large request starts lower (the 2.5 GB budget, bench/load.py). Called after each long request; False off
    glibc."""
    libc = _libc()
    return bool(libc and libc.malloc_trim(0))


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Make glibc's malloc share `arenas` memory pools among all threads (as MALLOC_ARENA_MAX does). Each request
    thread otherwise gets a pool of its own, which keeps the memory of a large request after it is freed: with six
    queues busy this cut the server's peak RSS from 2.9 to 2.4 GB (bench/load.py). Call it before threads start.
    Returns whether it took effect (False off glibc)."""
    libc = _libc()
    try:
        return bool(libc and libc.mallopt(M_ARENA_MAX, arenas))
    except AttributeError:  # a libc without mallopt
        return False
