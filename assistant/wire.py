"""The HTTP side of the OpenAI chat API, on httpx alone: JSON requests, SSE streams, retries.

The ``openai`` SDK costs over a second of imports (its generated types) for the two calls this
program makes (``POST /chat/completions`` streamed, ``GET /models``), so they are spoken directly:

* retries, with exponential backoff (0.5 s doubling, at most 8 s, jittered) or the server's
  ``Retry-After``, on connection errors, timeouts, 408/409/429 and 5xx, before a response
  arrives; never once a stream has started (a cut is the caller's to report);
* a failed request raises ``WireStatusError`` (status, parsed body) or ``WireConnectionError``;
* a stream yields each ``data:`` event parsed as JSON (``[DONE]`` ends it); an event carrying
  ``error`` raises ``WireStreamError``.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx

RETRY_STATUS = {408, 409, 429}
INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 8.0

Hook = Callable[[Any], Awaitable[None]]


class WireError(Exception):
    """Base of the errors this module raises."""


class WireConnectionError(WireError):
    def __init__(self, message: str, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


class WireStatusError(WireError):
    def __init__(self, status: int, body: Any, text: str) -> None:
        super().__init__(f"HTTP {status}")
        self.status_code = status
        self.body = body  # parsed JSON, else None
        self.text = text

    def detail(self) -> str:
        body = self.body
        if isinstance(body, dict):
            err = body.get("error", body)
            if isinstance(err, dict) and err.get("message"):
                return str(err["message"])
            if isinstance(err, str):
                return err
        return self.text


class WireStreamError(WireError):
    """The server sent an error event in the middle of a stream."""


def _retry_after(response: httpx.Response | None) -> float | None:
    if response is None:
        return None
    value = response.headers.get("retry-after-ms")
    try:
        if value is not None:
            return float(value) / 1000
        value = response.headers.get("retry-after")
        return float(value) if value is not None else None
    except ValueError:
        return None


def backoff(attempt: int, response: httpx.Response | None = None) -> float:
    told = _retry_after(response)
    if told is not None and 0 <= told <= 60:
        return told
    return min(INITIAL_BACKOFF * 2**attempt, MAX_BACKOFF) * (1 - 0.25 * random.random())


class Stream:
    """An open SSE response: iterate for parsed events; ``close()`` when done."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        data: list[str] = []
        async for line in self.response.aiter_lines():
            if line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
                continue
            if line or not data:
                continue  # comments, event names, ids; a blank line ends an event
            event = self._parse("\n".join(data))
            data = []
            if event is None:
                return
            yield event
        if data:
            event = self._parse("\n".join(data))
            if event is not None:
                yield event

    @staticmethod
    def _parse(payload: str) -> dict[str, Any] | None:
        if payload.strip() == "[DONE]":
            return None
        parsed = json.loads(payload)
        if not isinstance(parsed, dict):
            raise ValueError(f"an event that is not a JSON object: {payload[:100]}")
        if parsed.get("error") is not None:
            err = parsed["error"]
            message = err.get("message") if isinstance(err, dict) else err
            raise WireStreamError(str(message or err))
        return parsed

    async def close(self) -> None:
        await self.response.aclose()


class WireClient:
    def __init__(self, base_url: str, api_key: str, *, timeout: float, connect_timeout: float, max_retries: int,
                 on_request: Hook | None = None, on_response: Hook | None = None) -> None:  # fmt: skip
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        hooks: dict[str, list[Hook]] = {"request": [], "response": []}
        if on_request is not None:
            hooks["request"].append(on_request)
        if on_response is not None:
            hooks["response"].append(on_response)
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            headers={"authorization": f"Bearer {api_key}", "accept": "application/json"},
            event_hooks=hooks,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _send(self, method: str, path: str, body: Any = None, stream: bool = False) -> httpx.Response:
        url = f"{self.base_url}/{path.lstrip('/')}"
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                request = self.http.build_request(method, url, json=body)
                response = await self.http.send(request, stream=stream)
            except httpx.TimeoutException as exc:
                if last:
                    raise WireConnectionError(str(exc) or type(exc).__name__, timeout=True) from exc
                await asyncio.sleep(backoff(attempt))
                continue
            except httpx.TransportError as exc:
                if last:
                    raise WireConnectionError(str(exc) or type(exc).__name__) from exc
                await asyncio.sleep(backoff(attempt))
                continue
            if response.status_code < 400:
                return response
            await response.aread()
            await response.aclose()
            if not last and (response.status_code in RETRY_STATUS or response.status_code >= 500):
                await asyncio.sleep(backoff(attempt, response))
                continue
            raise _status_error(response)
        raise AssertionError("unreachable")

    async def get_json(self, path: str) -> Any:
        response = await self._send("GET", path)
        try:
            return response.json()
        except ValueError as exc:
            raise ValueError(f"not JSON: {response.text[:100]!r}") from exc

    async def post_stream(self, path: str, body: dict[str, Any]) -> Stream:
        return Stream(await self._send("POST", path, body, stream=True))


def _status_error(response: httpx.Response) -> WireStatusError:
    text = response.text
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    return WireStatusError(response.status_code, body, text)
