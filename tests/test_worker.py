"""The quick models' worker process (gen_app.worker): objects built and run there, calls that run together, streams
that stop when their consumer does, errors that keep their type, and a worker that dies."""

from __future__ import annotations

import os
import pickle
import signal
import threading
import time
from pathlib import Path

import pytest

from gen_app import loading, worker
from gen_app.limits import InvalidInput
from gen_app.loading import ModelLoadError
from gen_app.sampling import SamplingSettings
from gen_app.text.pipeline import TextPipeline

pytestmark = pytest.mark.skipif(not worker.wanted(), reason="this machine runs models without a worker")


class Probe:
    """Built in the worker by the tests: says where it runs, streams, fails on demand."""

    def __init__(self) -> None:
        self.meeting = threading.Barrier(2, timeout=20)
        self.closed = threading.Event()

    def pid(self) -> int:
        return os.getpid()

    def meet(self) -> bool:
        """Returns only once a second call has come: proof that calls run at the same time."""
        self.meeting.wait()
        return True

    def count(self, n: int):
        yield from range(n)

    def endless(self):
        try:
            while True:
                yield 1
                time.sleep(0.01)
        finally:
            self.closed.set()

    def was_closed(self) -> bool:
        return self.closed.wait(10)

    def refuse(self) -> None:
        raise InvalidInput("That value is out of range.")

    def fail_strangely(self) -> None:
        class Local(Exception):  # a class pickle cannot find: it cannot cross as it is
            pass

        raise Local("inside")


def failing_load() -> None:
    raise loading.failed("probe", "checkpoints/probe", ModelLoadError("probe", Path("checkpoints/probe"), "is missing"))


@pytest.fixture
def quick():
    started = worker.start()
    yield started
    started.stop()


def test_an_object_is_built_and_called_in_the_worker(quick):
    probe = worker.hosted("probe", Probe)
    assert isinstance(probe, worker.Hosted)
    assert probe.pid() == quick.for_model("probe").process.pid != os.getpid()


def test_faces_and_text_run_in_processes_of_their_own(quick):
    """The text sampler does not share a GIL with the face requests' threads (gen_app.worker.PROCESSES)."""
    faces, text = quick.for_model("faces").process.pid, quick.for_model("text").process.pid
    assert len({faces, text, os.getpid()}) == 3
    assert quick.for_model("anything else").process.pid == faces


def test_stopping_ends_every_worker_process(quick):
    """The app's exit (atexit) does not wait out the join timeout: each worker has left when stop returns, even while
    busy serving a call (closing the pipe alone did not end it: the reply reader still held the parent's end)."""
    probe = worker.hosted("probe", Probe)
    stream = probe.endless()
    next(stream)
    processes = [one.process for one in quick.by_name.values()]
    quick.stop()
    assert [process.exitcode for process in processes] == [0] * len(processes)


def test_calls_run_together(quick):
    probe = worker.hosted("probe", Probe)
    results = []
    other = threading.Thread(target=lambda: results.append(probe.meet()))
    other.start()
    assert probe.meet()
    other.join()
    assert results == [True]


def test_generators_stream_and_stop_with_their_consumer(quick):
    probe = worker.hosted("probe", Probe)
    assert list(probe.count(5)) == [0, 1, 2, 3, 4]
    assert list(probe.count(0)) == []
    stream = probe.endless()
    assert [next(stream) for _ in range(3)] == [1, 1, 1]
    stream.close()  # a Stop button, a closed page
    assert probe.was_closed()


def test_errors_keep_their_type_and_message(quick):
    probe = worker.hosted("probe", Probe)
    with pytest.raises(InvalidInput, match="out of range"):
        probe.refuse()
    with pytest.raises(RuntimeError, match="Local: inside"):
        probe.fail_strangely()
    assert probe.pid() == quick.for_model("probe").process.pid  # the worker goes on


def test_a_model_that_fails_to_load_fails_here_and_is_recorded(quick, monkeypatch):
    monkeypatch.setattr(loading, "LOAD_STATES", {})
    with pytest.raises(ModelLoadError, match="is missing") as raised:
        worker.hosted("probe", failing_load)
    assert raised.value.task == "probe" and raised.value.file == Path("checkpoints/probe")
    assert loading.LOAD_STATES["probe"].state == "failed"  # /metrics reads it in this process


def test_model_load_errors_survive_pickling():
    error = ModelLoadError("faces", Path("checkpoints/faces/config.json"), "is missing", "run the trainer")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.task, copy.file, copy.problem, copy.fix, str(copy)) == (
        error.task,
        error.file,
        error.problem,
        error.fix,
        str(error),
    )


def test_text_from_the_worker_is_the_text_made_here(quick):
    hosted = worker.hosted("text", TextPipeline.load)
    local = TextPipeline.load()
    settings = SamplingSettings(max_new_tokens=60, temperature=0.9, seed=5)
    prepared = hosted.prepare("ROMEO:\n")
    assert prepared == local.prepare("ROMEO:\n")
    streamed = list(hosted.stream(prepared, settings, every=0.05))
    assert streamed[-1] == local.generate("ROMEO:\n", settings)
    assert hosted.folder == local.folder and hosted.origin == local.origin


def test_when_the_worker_dies_calls_fail_once_then_run_here(quick):
    probe = worker.hosted("probe", Probe)
    stream = probe.endless()
    next(stream)
    probes = quick.for_model("probe")
    os.kill(probes.process.pid, signal.SIGKILL)
    with pytest.raises(worker.WorkerGone):
        for _ in stream:  # the items already sent may come first
            pass
    deadline = time.monotonic() + 10
    while probes.alive and time.monotonic() < deadline:
        time.sleep(0.05)
    assert probe.pid() == os.getpid()  # a local copy, built by the same factory
    assert not isinstance(worker.hosted("probe", Probe), worker.Hosted)  # new objects: here, until a new start


def test_the_workers_memory_is_reported_in_metrics(quick):
    from gen_app.metrics import COLLECTOR

    worker.hosted("probe", Probe)
    families = {family.name: family for family in COLLECTOR.collect()}
    assert families["gen_app_worker_memory_bytes"].samples[0].value > 1e6  # its own pages: a few MB at least
    quick.stop()
    assert "gen_app_worker_memory_bytes" not in {family.name for family in COLLECTOR.collect()}
