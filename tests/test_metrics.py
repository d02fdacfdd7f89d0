"""Observability: /metrics (Prometheus) changes as requests come in, and every request is logged with its id."""

from __future__ import annotations

import json
import logging
import re

import gradio as gr
import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from prometheus_client.parser import text_string_to_metric_families

from gen_app import metrics
from gen_app.logs import REQUEST_ID, StructuredFormatter
from gen_app.ui import UNHANDLED

Samples = dict[tuple[str, tuple], float]


def scrape(url: str) -> Samples:
    response = httpx.get(url.rstrip("/") + "/metrics", timeout=30)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def change(before: Samples, after: Samples, name: str, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_the_app_counts_requests_latency_and_errors(client, app_url):
    before = scrape(app_url)
    client.predict(42, 2, 0.7, api_name="/generate_faces")
    client.predict("JULIET:\n", 5, 0.8, 0, 1.0, 1.0, 1, api_name="/generate_text")  # streams: one request
    with pytest.raises(AppError, match="less than minimum"):
        client.predict(-5, 2, 0.7, api_name="/generate_faces")  # a bad input: a gr.Error for the caller
    after = scrape(app_url)

    assert change(before, after, "gen_app_requests_total", api_name="generate_faces") == 2
    assert change(before, after, "gen_app_requests_total", api_name="generate_text") == 1
    assert change(before, after, "gen_app_request_errors_total", api_name="generate_faces", kind="invalid_input") == 1
    assert change(before, after, "gen_app_request_errors_total", api_name="generate_text", kind="invalid_input") == 0
    for api in ("generate_faces", "generate_text"):
        assert change(before, after, "gen_app_request_duration_seconds_count", api_name=api) >= 1
        assert change(before, after, "gen_app_request_duration_seconds_sum", api_name=api) > 0
        assert value(after, "gen_app_requests_in_progress", api_name=api) == 0
    assert change(before, after, "gen_app_request_duration_seconds_bucket", api_name="generate_text", le="+Inf") == 1

    assert value(after, "gen_app_queue_length") == 0 and value(after, "gen_app_queue_max_size") == 64
    assert ("gen_app_queue_active_jobs", ()) in after
    for task in ("faces", "faces-prior", "style", "sr-x2", "sr-x4", "text", "synth", "melody"):
        assert value(after, "gen_app_model_loaded", task=task) == 1, task
    for tab in ("faces", "style", "sr", "text", "audio"):
        assert value(after, "gen_app_tab_up", tab=tab) == 1, tab
    assert value(after, "process_resident_memory_bytes") > 100e6


# ---- a small app of its own: internal errors, streams, request ids in the logs ---------------------------------------


@pytest.fixture(scope="module")
def small_app():
    def double(x):
        return 2 * x

    def boom(x):
        raise RuntimeError("a failure no check foresaw")

    def count(x):
        yield from range(3)

    with metrics.ObservedBlocks() as demo:
        number, out = gr.Number(), gr.Number()
        button = gr.Button()
        button.click(double, number, out, api_name="metrics_double")
        button.click(boom, number, out, api_name="metrics_boom")
        button.click(count, number, out, api_name="metrics_count")
    demo.queue()
    demo.launch(prevent_thread_lock=True, quiet=True, app_kwargs={"routes": metrics.routes()})
    yield demo.local_url
    demo.close()


def test_internal_errors_and_streams_are_counted(small_app):
    client = Client(small_app, verbose=False)
    before = scrape(small_app)
    assert client.predict(4, api_name="/metrics_double") == 8
    with pytest.raises(AppError, match=re.escape(UNHANDLED)):
        client.predict(4, api_name="/metrics_boom")
    assert client.predict(4, api_name="/metrics_count") == 2
    after = scrape(small_app)
    for api in ("metrics_double", "metrics_boom", "metrics_count"):
        assert change(before, after, "gen_app_requests_total", api_name=api) == 1, api
        assert change(before, after, "gen_app_request_duration_seconds_count", api_name=api) == 1, api
        assert value(after, "gen_app_requests_in_progress", api_name=api) == 0, api
    assert change(before, after, "gen_app_request_errors_total", api_name="metrics_boom", kind="internal") == 1
    assert change(before, after, "gen_app_request_errors_total", api_name="metrics_double", kind="internal") == 0


def test_every_request_is_logged_with_its_id(small_app, caplog):
    caplog.set_level(logging.INFO, logger="gen_app.requests")
    client = Client(small_app, verbose=False)
    client.predict(1, api_name="/metrics_double")
    with pytest.raises(AppError):
        client.predict(1, api_name="/metrics_boom")
    events = [(r.getMessage(), r.fields) for r in caplog.records if r.name == "gen_app.requests"]
    ends = {fields["api"]: fields for message, fields in events if message == "request_end"}
    starts = {fields["api"]: fields for message, fields in events if message == "request_start"}
    for api, status in (("metrics_double", "ok"), ("metrics_boom", "internal")):
        assert re.fullmatch(r"[0-9a-f]{8}", ends[api]["rid"]) and starts[api]["rid"] == ends[api]["rid"]
        assert ends[api]["status"] == status and ends[api]["seconds"] >= 0
    assert ends["metrics_double"]["rid"] != ends["metrics_boom"]["rid"]
    failure = next(r for r in caplog.records if r.name == "gen_app.requests" and r.levelno == logging.ERROR)
    assert failure.exc_info and "a failure no check foresaw" in str(failure.exc_info[1])  # the traceback, in the log


def test_log_lines_are_key_value_or_json():
    record = logging.LogRecord("gen_app.requests", logging.INFO, __file__, 1, "request_end", None, None)
    record.fields = {"rid": "3f9c2a1b", "api": "generate_faces", "status": "ok", "seconds": 0.0123}
    line = StructuredFormatter().format(record)
    assert re.fullmatch(
        r"ts=\S+Z level=INFO logger=gen_app.requests event=request_end rid=3f9c2a1b api=generate_faces status=ok "
        r"seconds=0.0123",
        line,
    )
    plain = logging.LogRecord("gen_app.loading", logging.WARNING, __file__, 1, "using %s", ("a b",), None)
    token = REQUEST_ID.set("0badc0de")  # a record written while a request runs carries its id
    try:
        assert StructuredFormatter().format(plain).endswith('msg="using a b" rid=0badc0de')
        parsed = json.loads(StructuredFormatter(json_lines=True).format(record))
    finally:
        REQUEST_ID.reset(token)
    assert parsed["event"] == "request_end" and parsed["rid"] == "3f9c2a1b" and parsed["seconds"] == 0.0123
