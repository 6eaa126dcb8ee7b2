"""A scripted OpenAI-compatible server on loopback: real HTTP and SSE, scripted replies and faults.

Each POST /v1/chat/completions takes the next scripted reply. Requests are
recorded (body and headers) so tests can assert exactly what was sent. A
request with no scripted reply left is answered 500 and counted as
unexpected; the fixture fails the test on unexpected or leftover replies.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

if TYPE_CHECKING:
    from assistant.endpoint import Endpoint


@dataclass
class Reply:
    """One scripted answer. kind: stream | status | html | cut | eof | hang | json."""

    kind: str = "stream"
    chunks: list[dict[str, Any]] = field(default_factory=list)  # delta dicts for choices[0]
    finish_reason: str | None = "stop"
    usage: dict[str, int] | None = None
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds between chunks
    hang: float = 0.0
    cut_after: int = 0  # for kind="cut": chunks sent before the connection drops
    extra_final: dict[str, Any] = field(default_factory=dict)  # e.g. {"timings": {...}}
    logprobs: bool = True  # send per-token logprobs when the request asks for them


def text(answer: str, *, pieces: int | None = None, usage: bool = True, delay: float = 0.0) -> Reply:
    """Stream ``answer`` as content deltas (split into ``pieces`` or per word)."""
    if pieces:
        size = max(1, -(-len(answer) // pieces))
        parts = [answer[i : i + size] for i in range(0, len(answer), size)]
    else:
        parts = [w + " " for w in answer.split(" ")]
        parts[-1] = parts[-1][:-1]
    chunks: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    chunks += [{"content": p} for p in parts if p]
    u = {"prompt_tokens": 10, "completion_tokens": len(parts), "total_tokens": 10 + len(parts)} if usage else None
    return Reply(chunks=chunks, usage=u, delay=delay)


def tool_calls(*calls: tuple[str, dict[str, Any] | str], split: int = 3, interleave: bool = False) -> Reply:
    """Stream native tool calls; arguments are split into ``split`` fragments per call."""
    per_call: list[list[dict[str, Any]]] = []
    for i, (name, args) in enumerate(calls):
        raw = args if isinstance(args, str) else json.dumps(args)
        size = max(1, -(-len(raw) // split))
        frags = [raw[j : j + size] for j in range(0, len(raw), size)] or [""]
        first = {"index": i, "id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": ""}}
        rest = [{"index": i, "function": {"arguments": f}} for f in frags]
        per_call.append([first, *rest])
    ordered: list[dict[str, Any]] = []
    if interleave:
        for step in range(max(len(c) for c in per_call)):
            ordered += [c[step] for c in per_call if step < len(c)]
    else:
        ordered = [d for c in per_call for d in c]
    chunks: list[dict[str, Any]] = [{"role": "assistant", "content": None}]
    chunks += [{"tool_calls": [d]} for d in ordered]
    return Reply(chunks=chunks, finish_reason="tool_calls", usage={"prompt_tokens": 20, "completion_tokens": 5,
                                                                 "total_tokens": 25})  # fmt: skip


_endpoints: list[Endpoint] = []


def scripted_endpoint(server: ScriptedServer, model: str = "m", **config: Any) -> Endpoint:
    """An Endpoint to ``server`` with no retries, closed after the test by the ``close_endpoints`` fixture
    (tests/conftest.py; a module opts in with ``pytestmark = pytest.mark.usefixtures("close_endpoints")``)."""
    from assistant.endpoint import Endpoint, EndpointConfig

    endpoint = Endpoint(EndpointConfig(base_url=server.base_url, model=model, max_retries=0, **config))
    _endpoints.append(endpoint)
    return endpoint


async def close_endpoints() -> None:
    while _endpoints:
        await _endpoints.pop().aclose()


class ScriptedServer:
    def __init__(self, models: list[str] | None = None) -> None:
        self.models = models or ["scripted-model"]
        self.replies: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.unexpected = 0
        self.model_list_status = 200
        self.props: dict[str, Any] | None = None  # llama-server's GET /props, when set
        self.props_requests = 0
        self.embedding_requests: list[dict[str, Any]] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- scripting -------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- lifecycle -------------------------------------------------------
    def start(self) -> ScriptedServer:
        app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
                Route("/props", self._props, methods=["GET"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("scripted server did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- handlers --------------------------------------------------------
    async def _models(self, request: Request) -> Response:
        if self.model_list_status != 200:
            return JSONResponse({"error": {"message": "nope"}}, status_code=self.model_list_status)
        return JSONResponse({"object": "list", "data": [{"id": m, "object": "model"} for m in self.models]})

    async def _embeddings(self, request: Request) -> Response:
        """Deterministic vectors (word hashing, 64 dims) for any input; requests recorded in embedding_requests."""
        body = await request.json()
        self.embedding_requests.append(body)
        from assistant.retrieval.embedders import HashEmbedder

        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = HashEmbedder(64).embed(texts)
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
        return JSONResponse({"object": "list", "data": data, "model": body.get("model", "")})

    async def _props(self, request: Request) -> Response:
        self.props_requests += 1
        if self.props is None:
            return JSONResponse({"error": {"message": "File Not Found"}}, status_code=404)
        return JSONResponse(self.props)

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        if not self.replies:
            self.unexpected += 1
            return JSONResponse({"error": {"message": "unexpected request: no scripted reply"}}, status_code=500)
        reply = self.replies.pop(0)
        if reply.hang:
            await asyncio.sleep(reply.hang)
        if reply.kind == "status":
            payload = reply.body if reply.body is not None else {"error": {"message": f"status {reply.status}"}}
            return JSONResponse(payload, status_code=reply.status, headers=reply.headers)
        if reply.kind == "html":
            return Response("<html><body><h1>Welcome to nginx!</h1></body></html>", media_type="text/html")
        if reply.kind == "json":
            return JSONResponse(reply.body, status_code=reply.status)
        return StreamingResponse(self._sse(body, reply), media_type="text/event-stream")

    async def _sse(self, body: dict[str, Any], reply: Reply) -> AsyncIterator[bytes]:
        model = body.get("model", "scripted-model")

        def frame(delta: dict[str, Any] | None, finish: str | None = None, logprobs: Any = None, **extra: Any) -> bytes:
            choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
            if logprobs is not None and choices:
                choices[0]["logprobs"] = logprobs
            obj = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": model,
                   "choices": choices, **extra}  # fmt: skip
            return f"data: {json.dumps(obj)}\n\n".encode()

        for n, delta in enumerate(reply.chunks):
            if reply.kind == "cut" and n >= reply.cut_after:
                raise ConnectionResetError("scripted cut")
            if reply.delay:
                await asyncio.sleep(reply.delay)
            if body.get("logprobs") and delta.get("content") and reply.logprobs:
                yield frame(delta, logprobs=_logprobs(delta["content"]))
                continue
            yield frame(delta)
        if reply.kind == "cut":
            raise ConnectionResetError("scripted cut")
        if reply.kind == "eof":  # the body just ends: no finish reason, no [DONE]
            return
        yield frame({}, reply.finish_reason, **reply.extra_final)
        if reply.usage and (body.get("stream_options") or {}).get("include_usage"):
            yield frame(None, usage=reply.usage)
        yield b"data: [DONE]\n\n"


def _logprobs(content: str) -> dict[str, Any]:
    """A deterministic fake: the chunk is one token, probability 0.95, with one alternative."""
    import math

    return {
        "content": [
            {
                "token": content,
                "logprob": math.log(0.95),
                "bytes": None,
                "top_logprobs": [
                    {"token": content, "logprob": math.log(0.95), "bytes": None},
                    {"token": "<alt>", "logprob": math.log(0.04), "bytes": None},
                ],
            }
        ]
    }
