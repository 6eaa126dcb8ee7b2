"""The one boundary to the model: an async stream of typed events over any OpenAI-compatible server.

Spoken over httpx by assistant/wire.py (the ``openai`` SDK would cost over a second of
imports per command). Requests are retried, with exponential backoff and ``Retry-After``,
on connection errors, 408/409/429 and 5xx before a response arrives; we set how many
times. Once the stream has started nothing is retried: a cut ends in a ``StreamError``
event carrying the partial text. Every transport error is mapped to our own exception types.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assistant.errors import (
    AuthenticationFailed,
    BadResponse,
    EndpointError,
    EndpointUnreachable,
    ModelNotFound,
    RateLimited,
    ServerError,
)
from assistant.events import (
    Event,
    Finish,
    StreamError,
    TextDelta,
    Timing,
    TokenProb,
    TokenProbs,
    ToolCall,
    ToolCallDelta,
    ToolCallReady,
    Usage,
)

if TYPE_CHECKING:
    from assistant.trace import Tracer
    from assistant.wire import WireClient


@dataclass(frozen=True)
class EndpointConfig:
    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 600.0
    connect_timeout: float = 10.0
    max_retries: int = 2
    text_tool_calls: bool = False  # recognise calls the model writes as text
    include_usage: bool = True  # stream_options.include_usage (standard OpenAI)
    logprobs: int = 0  # >0: ask for per-token logprobs with this many alternatives
    extra_body: dict[str, Any] = field(default_factory=dict)


@dataclass
class _PendingCall:
    id: str = ""
    name: str = ""
    arguments: str = ""


class Endpoint:
    """Streams chat completions from one OpenAI-compatible endpoint."""

    def __init__(self, config: EndpointConfig, tracer: Tracer | None = None) -> None:
        self.config = config
        self.tracer = tracer  # set or cleared at any time (`/trace on|off`)
        self.logprobs_with_tools = True  # cleared when the server refuses logprobs on requests with tools
        self._client: WireClient | None = None

    @property
    def client(self) -> WireClient:
        if self._client is None:
            from assistant.wire import WireClient

            cfg = self.config
            self._client = WireClient(
                cfg.base_url, cfg.api_key or "no-key", timeout=cfg.timeout, connect_timeout=cfg.connect_timeout,
                max_retries=cfg.max_retries, on_request=self._trace_request, on_response=self._trace_response,
            )  # fmt: skip
        return self._client

    async def _trace_request(self, request: Any) -> None:
        if self.tracer is not None:
            await self.tracer.on_request(request)

    async def _trace_response(self, response: Any) -> None:
        if self.tracer is not None:
            await self.tracer.on_response(response)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def list_models(self) -> list[str]:
        """Model ids the endpoint offers (GET /models)."""
        try:
            page = await self.client.get_json("models")
            return [str(m["id"]) for m in page.get("data", []) if isinstance(m, dict) and "id" in m]
        except Exception as exc:
            raise map_error(exc, self.config) from None

    async def stream(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]] | None = None,
        *,
        text_call_tools: Sequence[dict[str, Any]] | None = None,
        with_logprobs: bool = True,
        **params: Any,
    ) -> AsyncIterator[Event]:
        """One request, streamed: TextDelta/ToolCallDelta..., ToolCallReady*, Usage?, Timing, Finish.

        ``text_call_tools``: recognise calls to these tools written as text (default: the offered
        ``tools`` when the config says so). ``with_logprobs=False``: no logprobs unless ``params`` ask.
        Raises an EndpointError subclass if the request fails before the stream
        starts; yields StreamError then Finish("error") if it breaks after.
        """
        started = time.perf_counter()
        stream = await self._open(messages, tools, params, with_logprobs)
        first_byte = time.perf_counter() - started
        recognise = text_call_tools if text_call_tools is not None else (tools if self.config.text_tool_calls else None)
        state = _StreamState(recognise)
        try:
            async for chunk in stream:
                if self.tracer is not None:
                    self.tracer.write("sse", data=chunk)
                for event in state.on_chunk(chunk, started):
                    yield event
        except Exception as exc:
            from assistant.wire import WireStreamError

            cause = exc.__cause__ or exc
            detail = _one_line(f"{type(cause).__name__}: {cause}", 120)
            message = f"The stream from {self.config.base_url} broke mid-answer (connection lost: {detail})"
            if isinstance(exc, WireStreamError):
                message = f"{self.config.base_url} reported an error mid-answer: {_one_line(str(exc), 160)}"
            if self.tracer is not None:
                self.tracer.write("error", message=message)
            yield StreamError(message=message, partial_text=state.text)
            yield self._timing(first_byte, state, started)
            yield Finish("error")
            return
        finally:
            await stream.close()
        if not state.saw_chunk:
            raise BadResponse(
                f"{self.config.base_url} answered with no completion events.",
                hint="Is it an OpenAI-compatible /v1 endpoint?",
            )
        if not state.saw_finish:  # the body just ended: no finish reason, no [DONE]; a cut, not an answer
            message = (f"The stream from {self.config.base_url} ended without a finish reason (cut short); "
                       "the answer may be incomplete")  # fmt: skip
            if self.tracer is not None:
                self.tracer.write("error", message=message)
            yield StreamError(message=message, partial_text=state.text)
            yield self._timing(first_byte, state, started)
            yield Finish("error")
            return
        for event in state.finish():
            yield event
        yield self._timing(first_byte, state, started)
        yield Finish(state.finish_reason)

    def _timing(self, first_byte: float, state: _StreamState, started: float) -> Timing:
        timing = Timing(first_byte, state.first_token_at, time.perf_counter() - started, state.server_timings)
        if self.tracer is not None:
            self.tracer.write(
                "step",
                seconds_to_first_byte=round(first_byte, 6),
                seconds_to_first_token=timing.seconds_to_first_token,
                seconds_total=round(timing.seconds_total, 6),
                completion_tokens=state.usage.completion_tokens if state.usage else None,
                server_timings=state.server_timings,
            )
        return timing

    async def _open(
        self,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]] | None,
        params: dict[str, Any],
        logprobs: bool = True,
    ) -> Any:
        body: dict[str, Any] = {"model": self.config.model, "messages": list(messages), "stream": True}
        if tools:
            body["tools"] = list(tools)
        if self.config.include_usage:
            body["stream_options"] = {"include_usage": True}
        if logprobs and self.config.logprobs and (self.logprobs_with_tools or not tools):
            body["logprobs"] = True
            body["top_logprobs"] = self.config.logprobs
        body.update({k: v for k, v in params.items() if v is not None})
        body.update(self.config.extra_body)
        try:
            stream = await self._post_stream(body)
        except Exception as exc:
            err = await self._explain(exc)
            if "logprobs" in body and "logprobs" in err.message.lower():
                # e.g. llama-server: "logprobs is not supported with tools + stream": ask without them
                self.logprobs_with_tools = False
                body.pop("logprobs")
                body.pop("top_logprobs", None)
                try:
                    stream = await self._post_stream(body)
                except Exception as exc2:
                    raise await self._explain(exc2) from None
            else:
                raise err from None
        content_type = stream.response.headers.get("content-type", "")
        if "text/html" in content_type:
            await stream.close()
            raise BadResponse(
                f"{self.config.base_url} replied with an HTML page, not the OpenAI API.",
                hint="Check the URL: it usually ends in /v1.",
            )
        return stream

    async def _post_stream(self, body: dict[str, Any]) -> Any:
        """POST /chat/completions, streamed: the body goes as it is (our messages are plain JSON)."""
        return await self.client.post_stream("chat/completions", body)

    async def _explain(self, exc: Exception) -> EndpointError:
        err = map_error(exc, self.config)
        if isinstance(err, ModelNotFound) or (isinstance(err, ServerError) and "model" in err.message.lower()):
            try:
                available = await self.list_models()
            except EndpointError:
                return err
            if self.config.model not in available:
                return ModelNotFound(
                    f"{self.config.base_url} does not serve model '{self.config.model}'.",
                    available=available,
                    hint="It offers: " + (", ".join(available) or "nothing") + ". Use --model.",
                )
        return err


class _StreamState:
    """Folds chunks into events: text, tool-call deltas assembled by index, usage, finish reason."""

    def __init__(self, text_call_tools: Sequence[dict[str, Any]] | None) -> None:
        self.text = ""
        self.saw_chunk = False
        self.first_token_at: float | None = None
        self.finish_reason = "stop"
        self.saw_finish = False
        self.server_timings: dict[str, Any] = {}
        self.pending: dict[int, _PendingCall] = {}
        self.usage: Usage | None = None
        self.filter = None
        if text_call_tools:
            from assistant.textcalls import TextCallFilter

            self.filter = TextCallFilter(text_call_tools)

    def on_chunk(self, chunk: dict[str, Any], started: float) -> list[Event]:
        self.saw_chunk = True
        events: list[Event] = []
        if isinstance(chunk.get("timings"), dict):
            self.server_timings = chunk["timings"]
        u = chunk.get("usage")
        if isinstance(u, dict):
            self.usage = Usage(u.get("prompt_tokens") or 0, u.get("completion_tokens") or 0, u.get("total_tokens") or 0)
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            raw_delta = choice.get("delta")
            delta: dict[str, Any] = raw_delta if isinstance(raw_delta, dict) else {}
            content = delta.get("content")
            if content and isinstance(content, str):
                if self.first_token_at is None:
                    self.first_token_at = time.perf_counter() - started
                self.text += content
                shown = self.filter.feed(content) if self.filter else content
                if shown:
                    events.append(TextDelta(shown))
            lp = choice.get("logprobs")
            if isinstance(lp, dict) and lp.get("content"):
                events.append(_token_probs(lp["content"]))
            for tc in delta.get("tool_calls") or []:
                if isinstance(tc, dict):
                    events.append(self._on_tool_delta(tc, started))
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])
                self.saw_finish = True
        return events

    def _on_tool_delta(self, tc: dict[str, Any], started: float) -> ToolCallDelta:
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter() - started
        index = tc["index"] if isinstance(tc.get("index"), int) else len(self.pending)
        call = self.pending.setdefault(index, _PendingCall())
        raw_function = tc.get("function")
        function: dict[str, Any] = raw_function if isinstance(raw_function, dict) else {}
        name = function.get("name") or None
        args = function.get("arguments") or ""
        if tc.get("id"):
            call.id = str(tc["id"])
        if name and name != call.name:  # sent once (OpenAI) or in pieces (some servers); a repeat adds nothing
            call.name += name
        call.arguments += args
        return ToolCallDelta(index=index, id=tc.get("id"), name=name, arguments=args)

    def finish(self) -> list[Event]:
        events: list[Event] = []
        calls = [
            ToolCall(id=p.id or f"call_{i}", name=p.name, arguments=p.arguments)
            for i, p in sorted(self.pending.items())
        ]
        if self.filter is not None:
            rest, text_calls = self.filter.finish()
            if rest:
                events.append(TextDelta(rest))
            if not calls and text_calls:
                calls = text_calls
        events.extend(ToolCallReady(c) for c in calls)
        if calls:
            self.finish_reason = "tool_calls"
        if self.usage is not None:
            events.append(self.usage)
        return events


def _token_probs(content: list[dict[str, Any]]) -> TokenProbs:
    return TokenProbs(
        tuple(
            TokenProb(
                str(e.get("token", "")),
                float(e.get("logprob", 0.0)),
                tuple((str(t.get("token", "")), float(t.get("logprob", 0.0))) for t in (e.get("top_logprobs") or [])),
            )
            for e in content
            if isinstance(e, dict)
        )
    )


def map_error(exc: BaseException, config: EndpointConfig) -> EndpointError:
    """Turn a transport error into one of ours, with one readable line."""
    from assistant.wire import WireConnectionError, WireStatusError

    url = config.base_url
    if isinstance(exc, EndpointError):
        return exc
    if isinstance(exc, WireConnectionError) and exc.timeout:
        return EndpointUnreachable(
            f"Timed out waiting for {url}.", hint="Is the server overloaded? Raise timeout in the config."
        )
    if isinstance(exc, WireConnectionError):
        return EndpointUnreachable(
            f"Cannot reach the model endpoint at {url}.",
            hint="Is the server running, and is --base-url / OPENAI_BASE_URL right?",
        )
    if isinstance(exc, WireStatusError):
        return _status_error(exc, url)
    if isinstance(exc, ValueError):
        return BadResponse(f"{url} sent a reply that is not valid OpenAI JSON: {_one_line(str(exc))}")
    if type(exc).__module__.split(".")[0] in ("httpx", "httpcore"):
        detail = _one_line(str(exc)) or type(exc).__name__
        return EndpointUnreachable(f"The connection to {url} failed: {detail}.")
    return EndpointError(f"Unexpected error talking to {url}: {type(exc).__name__}: {_one_line(str(exc))}")


def _status_error(exc: Any, url: str) -> EndpointError:
    status, detail = exc.status_code, _one_line(exc.detail())
    if status in (401, 403):
        return AuthenticationFailed(
            f"{url} refused the API key (HTTP {status}).",
            hint="Set --api-key or OPENAI_API_KEY, or api_key_env in the config profile.",
        )
    if status == 404:
        if "model" in detail.lower():
            return ModelNotFound(f"{url}: {detail}")
        return BadResponse(f"{url} answered 404 Not Found.", hint="Check the URL: it usually ends in /v1.")
    if status == 429:
        return RateLimited(f"{url} is rate-limiting requests (HTTP 429) and retries ran out.")
    return ServerError(f"{url} answered HTTP {status}: {detail}")


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    if "<html" in line.lower() or "<!doctype" in line.lower():
        return "an HTML page (not the OpenAI API)"
    return line if len(line) <= limit else line[: limit - 1] + "…"
