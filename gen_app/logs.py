"""Structured logs: one line per record, as key=value pairs (logfmt) or, with GEN_APP_LOG_FORMAT=json, JSON lines.

Every line has `ts`, `level` and `logger`; an event logged with `extra={"fields": {...}}` (e.g. gen_app.metrics'
`request_start` / `request_end`) has `event=<message>` and its fields, any other record `msg="..."`. A record
written while a request runs carries its request id, `rid` (REQUEST_ID, set by gen_app.metrics.ObservedBlocks).

    ts=2025-01-01T12:00:00.123Z level=INFO logger=gen_app.requests event=request_end rid=3f9c2a1b api=generate_faces
    session=k2j4h5g6 status=ok seconds=0.0123
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import time

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("gen_app_request_id", default=None)
BARE = re.compile(r"[\w.:/@+-]+")  # values written without quotes


def logfmt(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, list | dict) else str(value)
    return text if BARE.fullmatch(text) else json.dumps(text, ensure_ascii=False)


class StructuredFormatter(logging.Formatter):
    def __init__(self, json_lines: bool = False):
        super().__init__()
        self.json_lines = json_lines

    def fields(self, record: logging.LogRecord) -> dict:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        out = {"ts": stamp, "level": record.levelname, "logger": record.name}
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            out["event"] = record.getMessage()
            out |= extra
        else:
            out["msg"] = record.getMessage()
        rid = getattr(record, "rid", None) or REQUEST_ID.get()
        if rid and "rid" not in out:
            out["rid"] = rid
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return out

    def format(self, record: logging.LogRecord) -> str:
        out = self.fields(record)
        if self.json_lines:
            return json.dumps(out, ensure_ascii=False, default=str)
        return " ".join(f"{key}={logfmt(value)}" for key, value in out.items())


def configure_logging(level: int = logging.INFO) -> None:
    """Structured lines on stderr for every logger (GEN_APP_LOG_FORMAT=json: JSON lines; else key=value)."""
    handler = logging.StreamHandler()
    handler.setFormatter(StructuredFormatter(json_lines=os.environ.get("GEN_APP_LOG_FORMAT", "").lower() == "json"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
