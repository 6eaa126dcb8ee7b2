"""The one boundary to the model: an async stream of typed events over any OpenAI-compatible server.

Built on ``openai.AsyncOpenAI`` (imported lazily). The SDK already retries, with
exponential backoff and ``Retry-After``, on connection errors, 408/409/429 and
5xx before a response arrives; we set how many times. Once the stream has
started nothing is retried: a cut ends in a ``StreamError`` event carrying the
partial text. Every SDK error is mapped to our own exception types.
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
    from openai import AsyncOpenAI

    from assistant.trace import Tracer


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
        self._client: AsyncOpenAI | None = None

    @property
    def client(self) -> AsyncOpenAI:
        if self._client is None:
            from openai import AsyncOpenAI, DefaultAsyncHttpx2Client, Timeout

            cfg = self.config
            timeout = Timeout(cfg.timeout, connect=cfg.connect_timeout)
            hooks = {"request": [self._trace_request], "response": [self._trace_response]}
            self._client = AsyncOpenAI(
                base_url=cfg.base_url,
                api_key=cfg.api_key or "no-key",
                max_retries=cfg.max_retries,
                timeout=timeout,
                http_client=DefaultAsyncHttpx2Client(timeout=timeout, event_hooks=hooks),
            )
        return self._client

    async def _trace_request(self, request: Any) -> None:
        if self.tracer is not None:
            await self.tracer.on_request(request)

    async def _trace_response(self, response: Any) -> None:
        if self.tracer is not None:
            await self.tracer.on_response(response)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def list_models(self) -> list[str]:
        """Model ids the endpoint offers (GET /models)."""
        try:
            page = await self.client.models.list()
            return [m.id for m in page.data]
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
                    self.tracer.write("sse", data=chunk.model_dump(exclude_none=True, exclude_unset=True))
                for event in state.on_chunk(chunk, started):
                    yield event
        except Exception as exc:
            cause = exc.__cause__ or exc
            detail = _one_line(f"{type(cause).__name__}: {cause}", 120)
            message = f"The stream from {self.config.base_url} broke mid-answer (connection lost: {detail})"
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
        """POST /chat/completions through the SDK's transport (auth, retries, SSE parsing).

        ``chat.completions.create`` would first run the body through the SDK's
        TypedDict transform, which costs ~0.1 ms per message (12 ms at 100
        messages, measured in benchmarks/bench_loop_overhead.py). Our messages
        are already plain JSON, so we post the body as it is.
        """
        from openai import AsyncStream
        from openai.types.chat import ChatCompletion, ChatCompletionChunk

        return await self.client.post(
            "/chat/completions",
            body=body,
            cast_to=ChatCompletion,
            options={"security": {"bearer_auth": True}},
            stream=True,
            stream_cls=AsyncStream[ChatCompletionChunk],
        )

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
        self.server_timings: dict[str, Any] = {}
        self.pending: dict[int, _PendingCall] = {}
        self.usage: Usage | None = None
        self.filter = None
        if text_call_tools:
            from assistant.textcalls import TextCallFilter

            self.filter = TextCallFilter(text_call_tools)

    def on_chunk(self, chunk: Any, started: float) -> list[Event]:
        self.saw_chunk = True
        events: list[Event] = []
        extra = getattr(chunk, "model_extra", None) or {}
        if isinstance(extra.get("timings"), dict):
            self.server_timings = extra["timings"]
        if chunk.usage is not None:
            u = chunk.usage
            self.usage = Usage(u.prompt_tokens or 0, u.completion_tokens or 0, u.total_tokens or 0)
        for choice in chunk.choices or []:
            delta = choice.delta
            if delta is not None and delta.content:
                if self.first_token_at is None:
                    self.first_token_at = time.perf_counter() - started
                self.text += delta.content
                shown = self.filter.feed(delta.content) if self.filter else delta.content
                if shown:
                    events.append(TextDelta(shown))
            lp = getattr(choice, "logprobs", None)
            if lp is not None and lp.content:
                events.append(_token_probs(lp.content))
            for tc in (delta.tool_calls if delta is not None else None) or []:
                events.append(self._on_tool_delta(tc, started))
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
        return events

    def _on_tool_delta(self, tc: Any, started: float) -> ToolCallDelta:
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter() - started
        index = tc.index if tc.index is not None else len(self.pending)
        call = self.pending.setdefault(index, _PendingCall())
        name = tc.function.name if tc.function is not None else None
        args = (tc.function.arguments if tc.function is not None else None) or ""
        if tc.id:
            call.id = tc.id
        if name and name != call.name:  # sent once (OpenAI) or in pieces (some servers); a repeat adds nothing
            call.name += name
        call.arguments += args
        return ToolCallDelta(index=index, id=tc.id, name=name, arguments=args)

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


def _token_probs(content: Any) -> TokenProbs:
    return TokenProbs(
        tuple(
            TokenProb(
                e.token,
                float(e.logprob),
                tuple((t.token, float(t.logprob)) for t in (e.top_logprobs or [])),
            )
            for e in content
        )
    )


def map_error(exc: BaseException, config: EndpointConfig) -> EndpointError:
    """Turn an SDK or transport error into one of ours, with one readable line."""
    import openai

    url = config.base_url
    if isinstance(exc, EndpointError):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        return EndpointUnreachable(
            f"Timed out waiting for {url}.", hint="Is the server overloaded? Raise timeout in the config."
        )
    if isinstance(exc, openai.APIConnectionError):
        return EndpointUnreachable(
            f"Cannot reach the model endpoint at {url}.",
            hint="Is the server running, and is --base-url / OPENAI_BASE_URL right?",
        )
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return AuthenticationFailed(
            f"{url} refused the API key (HTTP {exc.status_code}).",
            hint="Set --api-key or OPENAI_API_KEY, or api_key_env in the config profile.",
        )
    if isinstance(exc, openai.NotFoundError):
        detail = _short_detail(exc)
        if "model" in detail.lower():
            return ModelNotFound(f"{url}: {detail}")
        return BadResponse(f"{url} answered 404 Not Found.", hint="Check the URL: it usually ends in /v1.")
    if isinstance(exc, openai.RateLimitError):
        return RateLimited(f"{url} is rate-limiting requests (HTTP 429) and retries ran out.")
    if isinstance(exc, openai.APIStatusError):
        return ServerError(f"{url} answered HTTP {exc.status_code}: {_short_detail(exc)}")
    if isinstance(exc, openai.APIResponseValidationError | ValueError):
        return BadResponse(f"{url} sent a reply that is not valid OpenAI JSON: {_one_line(str(exc))}")
    if isinstance(exc, openai.APIError):
        return ServerError(f"{url} reported an error: {_one_line(exc.message)}")
    if type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "httpcore2"):
        detail = _one_line(str(exc)) or type(exc).__name__
        return EndpointUnreachable(f"The connection to {url} failed: {detail}.")
    return EndpointError(f"Unexpected error talking to {url}: {type(exc).__name__}: {_one_line(str(exc))}")


def _short_detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return _one_line(str(err["message"]))
        if isinstance(err, str):
            return _one_line(err)
    return _one_line(str(getattr(exc, "message", "") or exc))


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    if "<html" in line.lower() or "<!doctype" in line.lower():
        return "an HTML page (not the OpenAI API)"
    return line if len(line) <= limit else line[: limit - 1] + "…"
