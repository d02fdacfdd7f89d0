"""Prometheus metrics and a request id for every event, served at `/metrics` on the app's own server.

- `gen_app_requests_total{api_name}`, `gen_app_request_errors_total{api_name,kind}` (kind: `invalid_input`, a
  gr.Error message for the caller; `internal`, a failure no check foresaw; `cancelled`), the latency histogram
  `gen_app_request_duration_seconds{api_name}` (a streaming event: from its first value to its last) and
  `gen_app_requests_in_progress{api_name}`: counted in `ObservedBlocks.process_api`, which every event passes
  through (from the page, gradio_client or raw HTTP; queued or not);
- `gen_app_queue_length` (events waiting), `gen_app_queue_active_jobs`, `gen_app_queue_max_size`;
- `gen_app_model_loaded{task}` (1: loaded from where it was configured to come from; 0: failed, or the local
  checkpoint instead of its Hub repo) and `gen_app_tab_up{tab}` (1: serving; 0: it shows why it could not start);
- the process: `process_resident_memory_bytes` (RSS), CPU seconds, open files (prometheus_client's own collector),
  and `gen_app_worker_memory_bytes`: the private memory of the quick models' worker process (gen_app.worker), to add
  to the RSS for the app's whole memory.

Each request gets a short id (`rid`), logged when it starts and ends (gen_app.logs formats the fields as key=value
or JSON lines), and set for every log record written while it runs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
import weakref
from dataclasses import dataclass, field

import gradio as gr
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gen_app import loading, worker
from gen_app.logs import REQUEST_ID
from gen_app.ui import UNHANDLED, AppBlocks

log = logging.getLogger("gen_app.requests")

disable_created_metrics()  # no *_created series: they double the scrape and no dashboard here reads them

# Latency buckets: a face takes milliseconds, an "any style image" painting up to minutes.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
REQUESTS = Counter("gen_app_requests", "Requests received, per endpoint.", ["api_name"])
ERRORS = Counter("gen_app_request_errors", "Requests that ended without a result, per endpoint.", ["api_name", "kind"])
LATENCY = Histogram(
    "gen_app_request_duration_seconds", "Time to answer a request, per endpoint.", ["api_name"], buckets=BUCKETS
)
IN_PROGRESS = Gauge("gen_app_requests_in_progress", "Requests being answered now, per endpoint.", ["api_name"])

TAB_STATES: dict[str, bool] = {}  # tab id -> serving (gen_app.app sets it when it builds the tab)
STALE_SECONDS = 3600.0  # a stream not heard from for this long is dropped (counted as cancelled)


class AppCollector:
    """Read at each scrape: the queue of the app being served, and how each model and tab loaded."""

    def __init__(self) -> None:
        self.demo: weakref.ref | None = None

    def collect(self):
        demo = self.demo() if self.demo else None
        queue = getattr(demo, "_queue", None)
        length = GaugeMetricFamily("gen_app_queue_length", "Events waiting in the queue.")
        active = GaugeMetricFamily("gen_app_queue_active_jobs", "Events the queue's workers are running.")
        size = GaugeMetricFamily("gen_app_queue_max_size", "The most events the queue holds before refusing more.")
        if queue is not None:
            length.add_metric([], len(queue))
            active.add_metric([], sum(job is not None for job in getattr(queue, "active_jobs", None) or []))
            if queue.max_size is not None:
                size.add_metric([], queue.max_size)
        yield from (length, active, size)
        if isinstance(demo, ObservedBlocks):
            demo.sweep()  # streams cancelled since the last request
        models = GaugeMetricFamily(
            "gen_app_model_loaded", "1: the model loaded as configured; 0: failed, or a fallback.", labels=["task"]
        )
        for task, state in sorted(loading.LOAD_STATES.items()):
            models.add_metric([task], 1.0 if state.state == "loaded" else 0.0)
        yield models
        quick = worker.current()
        if quick is not None:
            yield GaugeMetricFamily(
                "gen_app_worker_memory_bytes",
                "Private memory of the quick models' worker processes (add it to the RSS for the app's whole memory).",
                value=quick.private_bytes(),
            )
        tabs = GaugeMetricFamily("gen_app_tab_up", "1: the tab serves; 0: it could not start.", labels=["tab"])
        for tab, up in sorted(TAB_STATES.items()):
            tabs.add_metric([tab], 1.0 if up else 0.0)
        yield tabs


COLLECTOR = AppCollector()


def watch(demo: gr.Blocks) -> None:
    """Report `demo`'s queue (the app this process serves; the last one built)."""
    COLLECTOR.demo = weakref.ref(demo)


async def metrics_endpoint(request: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def routes() -> list[Route]:
    """The routes to add to the app's server (launch(app_kwargs={"routes": ...})); GEN_APP_METRICS=0: none."""
    return [] if os.environ.get("GEN_APP_METRICS", "1") == "0" else [Route("/metrics", metrics_endpoint)]


def api_label(fn) -> str:
    name = getattr(fn, "api_name", None)
    return str(name) if name else f"fn_{getattr(fn, '_id', '?')}"


def new_request_id() -> str:
    return uuid.uuid4().hex[:8]


@dataclass
class Call:
    """One request: a plain event in one process_api call, a streaming one over several."""

    rid: str
    api: str
    session: str
    started: float = field(default_factory=time.perf_counter)
    seen: float = field(default_factory=time.perf_counter)
    running: bool = True


class ObservedBlocks(AppBlocks):
    """AppBlocks that counts, times and logs every request (see the module's docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._streams: dict[object, Call] = {}  # streaming requests between two values, by event id

    def sweep(self) -> None:
        """End the streams that were cancelled (Stop) or abandoned: no iterator left for them, or silent too long."""
        app = getattr(self, "server_app", None)
        iterators = getattr(app, "iterators", None)
        now = time.perf_counter()
        for key, call in list(self._streams.items()):
            gone = iterators is not None and isinstance(key, str) and key not in iterators and now - call.seen > 1
            if not call.running and (gone or now - call.seen > STALE_SECONDS):
                self._streams.pop(key, None)
                self._finish(call, "cancelled")

    def _start(self, fn, session_hash) -> Call:
        call = Call(new_request_id(), api_label(fn), (session_hash or "-")[:8])
        REQUESTS.labels(call.api).inc()
        IN_PROGRESS.labels(call.api).inc()
        log.info("request_start", extra={"fields": {"rid": call.rid, "api": call.api, "session": call.session}})
        return call

    def _finish(self, call: Call, status: str, error: BaseException | None = None) -> None:
        seconds = time.perf_counter() - call.started
        IN_PROGRESS.labels(call.api).dec()
        LATENCY.labels(call.api).observe(seconds)
        if status != "ok":
            ERRORS.labels(call.api, status).inc()
        fields = {"rid": call.rid, "api": call.api, "session": call.session, "status": status}
        fields["seconds"] = round(seconds, 4)
        if error is not None and status == "invalid_input":
            fields["message"] = getattr(error, "message", str(error))
        cause = error.__cause__ if status == "internal" and error is not None else None
        level = logging.ERROR if status == "internal" else logging.INFO
        log.log(level, "request_end", extra={"fields": fields}, exc_info=cause or (error if level >= 40 else None))

    async def process_api(self, block_fn, inputs, *args, **kwargs):
        fn = self.fns[block_fn] if isinstance(block_fn, int) else block_fn
        iterator, event_id = kwargs.get("iterator"), kwargs.get("event_id")
        self.sweep()
        call = self._streams.pop(event_id if event_id is not None else id(iterator), None) if iterator else None
        if call is None:
            call = self._start(fn, kwargs.get("session_hash"))
        call.running, call.seen = True, time.perf_counter()
        token = REQUEST_ID.set(call.rid)
        try:
            result = await super().process_api(block_fn, inputs, *args, **kwargs)
        except asyncio.CancelledError:
            self._finish(call, "cancelled")
            raise
        except gr.Error as error:
            self._finish(call, "internal" if getattr(error, "message", None) == UNHANDLED else "invalid_input", error)
            raise
        except BaseException as error:
            self._finish(call, "internal", error)
            raise
        finally:
            REQUEST_ID.reset(token)
        if isinstance(result, dict) and result.get("is_generating"):
            call.running, call.seen = False, time.perf_counter()
            key = event_id if event_id is not None else id(result.get("iterator"))
            self._streams[key] = call
        else:
            self._finish(call, "ok")
        return result


REGISTRY.register(COLLECTOR)  # after ObservedBlocks: registering reads the collector once
