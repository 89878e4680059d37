"""Structured JSON logs: one object per line (ts, level, logger, msg, request_id, route, status, duration_ms).

Never log bodies, tokens, keys, invitation codes or ciphertext; account/device ids only at debug level.
The request id travels in a context variable set by the HTTP middleware and the socket handlers.
"""

from __future__ import annotations

import contextvars
import itertools
import json
import logging
import secrets
import sys
import time
from typing import Any, TextIO

__all__ = ["JsonFormatter", "configure_logging", "new_request_id", "request_id_var"]

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# Request ids correlate log lines; they need to be unique, not secret. A per-process random prefix and a
# counter cost nothing per event, where drawing random bytes is a system call on every socket.io event.
_ID_PREFIX = secrets.token_hex(4)
_id_counter = itertools.count(1)


def new_request_id() -> str:
    return f"{_ID_PREFIX}-{next(_id_counter):x}"

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            out["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, separators=(",", ":"))


def configure_logging(level: str, stream: TextIO | None = None, *, log_requests: bool = False) -> None:
    """JSON lines on stderr at ``level``. Per-request lines (logger ``server.access``) appear at info only
    with ``log_requests``; at debug level they always do."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # aiohttp's access log duplicates ours (and would log query strings); engineio/socketio are chatty.
    for name in ("aiohttp.access", "engineio.server", "socketio.server"):
        logging.getLogger(name).setLevel(logging.WARNING)
    quiet_requests = not log_requests and root.level > logging.DEBUG
    logging.getLogger("server.access").setLevel(logging.WARNING if quiet_requests else logging.NOTSET)
