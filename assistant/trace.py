"""The wire trace: JSONL of what actually went over HTTP, with arrival times.

One record per line, each with ``t`` (seconds since the trace started) and ``type``:

* ``turn``       — a user turn begins (its text)
* ``request``    — an HTTP request: method, URL, headers (secrets redacted), JSON body
* ``response``   — the response head: status, headers (the body follows as SSE)
* ``sse``        — one server-sent event: the raw ``data:`` payload, parsed, as it arrived
* ``step``       — per-request timing: time to first byte/token, tokens/s, total
* ``tool_call`` / ``tool_result`` — what ran locally between requests
* ``context``    — the context report summary of the request
* ``error``      — a broken stream or failed request

Streaming is visible as what it is: one HTTP response whose body is a series of
``data:`` events, each a small JSON delta.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import IO, Any

from assistant.errors import AssistantError
from assistant.paths import redact_url

SECRET_HEADERS = {"authorization", "api-key", "x-api-key", "cookie", "set-cookie", "proxy-authorization"}


class TraceError(AssistantError):
    """The trace file cannot be written."""


def redact(headers: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in dict(headers).items():
        k = str(key).lower()
        if k in SECRET_HEADERS:
            v = str(value)
            out[k] = (v.split(" ", 1)[0] + " ***") if " " in v else "***"
        else:
            out[k] = str(value)
    return out


class Tracer:
    """Appends JSON records to a file; a write failure disables the tracer with one error."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.started = time.perf_counter()
        self.wall_start = time.time()
        self.error: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # secrets-adjacent: private
            self._fh: IO[str] | None = open(fd, "a", encoding="utf-8")  # noqa: SIM115 — closed in close()
        except OSError as exc:
            raise TraceError(f"Cannot write the trace file {path}: {exc.strerror or exc}.") from None
        self.write("trace_start", wall_time=self.wall_start)

    def now(self) -> float:
        return time.perf_counter() - self.started

    def write(self, kind: str, **fields: Any) -> None:
        if self._fh is None:
            return
        record = {"t": round(self.now(), 6), "type": kind, **fields}
        try:
            self._fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            self._fh.flush()
        except OSError as exc:
            self.error = f"Trace file {self.path} could not be written ({exc.strerror or exc}); tracing stopped."
            self.close()

    def close(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.close()
            self._fh = None

    @property
    def active(self) -> bool:
        return self._fh is not None

    # -- httpx event hooks ----------------------------------------------
    async def on_request(self, request: Any) -> None:
        body: Any = None
        try:
            raw = request.content
            body = json.loads(raw) if raw else None
        except Exception:
            body = "<not JSON>"
        url = redact_url(str(request.url))
        self.write("request", method=request.method, url=url, headers=redact(request.headers), body=body)

    async def on_response(self, response: Any) -> None:
        self.write("response", status=response.status_code, headers=redact(response.headers))


def read_trace(path: Path) -> list[dict[str, Any]]:
    """Records of a trace file; a bad line is reported with its number."""
    records = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TraceError(f"Cannot read the trace file {path}: {exc.strerror or exc}.") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise TraceError(f"{path}:{number}: not a JSON record ({exc.msg}).") from None
    return records
