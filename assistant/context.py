"""Each request built from scratch under a token budget, with a report of exactly what was sent.

The model keeps nothing between requests: what it knows this turn is what this
request carries. ``ContextBuilder.build()`` assembles it from the system
prompt, the tool schemas, retrieved passages, earlier turns (history), the
current input and this turn's tool calls and results, and returns a
``ContextReport`` saying how many messages and tokens each source took and
what was dropped to fit. The same report feeds the Python API, ``/context``,
traces and eval logs.

Fitting: earlier turns are dropped oldest first and whole (a tool call is
never separated from its result). When dropping is needed, the builder cuts
deeper than strictly necessary (down to ``refill`` of the budget) and then
keeps that cut while later turns still fit, so the start of the prompt stays
the same from turn to turn and llama-server can reuse its prompt cache instead
of re-reading the whole history after every drop.

Retrieved passages have their own budget: at most ``retrieval_share`` of the prompt
budget, and never more than what is left after the system prompt, tools and the
current input, so passages never crowd out the input. They arrive most relevant
first and are dropped from the end to fit. They sit after the history, just before
the current turn: they change every turn, and placed earlier they would invalidate
llama-server's prompt cache for the whole history.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from assistant.conversation import Message, Summary, fold_tool_exchanges
from assistant.errors import AssistantError

PER_MESSAGE_TOKENS = 4  # role markers around each message in chat templates such as ChatML
TOOLS_PREAMBLE_TOKENS = 60  # the template's text introducing the tool list
SOURCES = ("system", "instructions", "server_instructions", "tools", "summary", "retrieval", "attachments", "history",
           "input", "tool_results")  # fmt: skip


class ContextOverflow(AssistantError):
    """The current input alone does not fit the context window."""


class TokenCounter(Protocol):
    method: Literal["server", "estimate"]

    async def count(self, texts: list[str]) -> list[int]: ...


class _Cache:
    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self.data: OrderedDict[bytes, int] = OrderedDict()

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def get(self, key: bytes) -> int | None:
        return self.data.get(key)

    def put(self, key: bytes, value: int) -> None:
        self.data[key] = value
        if len(self.data) > self.size:
            self.data.popitem(last=False)


class EstimateCounter:
    """About 3.5 characters per token for English and code; cached."""

    method: Literal["server", "estimate"] = "estimate"

    def __init__(self, chars_per_token: float = 3.5) -> None:
        self.chars_per_token = chars_per_token

    async def count(self, texts: list[str]) -> list[int]:
        return [max(1, round(len(t) / self.chars_per_token)) if t else 0 for t in texts]


class ServerTokenizer:
    """Exact counts from llama-server's ``/tokenize``, cached by content; estimates if it fails."""

    def __init__(self, root_url: str, *, concurrency: int = 8, api_key: str | None = None) -> None:
        self.root_url = root_url.rstrip("/")
        self.api_key = api_key
        self.cache = _Cache()
        self.fallback = EstimateCounter()
        self.concurrency = concurrency
        self.method: Literal["server", "estimate"] = "server"
        self._client: Any = None

    async def count(self, texts: list[str]) -> list[int]:
        if self.method == "estimate":
            return await self.fallback.count(texts)
        keys = [self.cache.key(t) for t in texts]
        missing = {k: t for k, t in zip(keys, texts, strict=True) if t and self.cache.get(k) is None}
        if missing:
            try:
                await self._fetch(missing)
            except Exception:
                self.method = "estimate"  # say so in the report; keep working
                return await self.fallback.count(texts)
        return [self.cache.get(k) or 0 if t else 0 for k, t in zip(keys, texts, strict=True)]

    async def _fetch(self, missing: dict[bytes, str]) -> None:
        import asyncio

        import httpx

        if self._client is None:
            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            self._client = httpx.AsyncClient(timeout=10.0, headers=headers)
        sem = asyncio.Semaphore(self.concurrency)

        async def one(key: bytes, text: str) -> None:
            async with sem:
                resp = await self._client.post(f"{self.root_url}/tokenize", json={"content": text})
                resp.raise_for_status()
                self.cache.put(key, len(resp.json()["tokens"]))

        await asyncio.gather(*(one(k, t) for k, t in missing.items()))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


async def detect_counter(base_url: str, api_key: str | None = None) -> tuple[TokenCounter, int | None]:
    """llama-server's tokenizer and context window when the endpoint is one; else an estimate."""
    import httpx

    root = base_url.rstrip("/").removesuffix("/v1")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        async with httpx.AsyncClient(timeout=3.0, headers=headers) as client:
            props = (await client.get(f"{root}/props")).json()
            window = int(props["default_generation_settings"]["n_ctx"])
    except Exception:  # no /tokenize probe: a server without one falls back to estimates on first use
        return EstimateCounter(), None
    return ServerTokenizer(root, api_key=api_key), window


@dataclass
class SourceReport:
    messages: int = 0
    tokens: int = 0


@dataclass
class ContextReport:
    """What one request carried, per source, and what was left out."""

    window: int
    budget: int  # window minus the room kept for the answer
    counted_by: Literal["server", "estimate"]
    sources: dict[str, SourceReport] = field(default_factory=lambda: {s: SourceReport() for s in SOURCES})
    dropped_turns: int = 0
    dropped_messages: int = 0
    dropped_tokens: int = 0
    dropped_passages: int = 0  # retrieved passages left out to fit the retrieval budget
    retrieval_budget: int = 0
    kept_turns: int = 0
    folded: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)
    tools_in_prompt: bool = False  # described in the system prompt instead of the `tools` field
    actual_prompt_tokens: int | None = None  # from the server's usage, after the request
    exact: Any = field(default=None, repr=False, compare=False)  # a task correcting estimates (see build())
    cached_prompt_tokens: int | None = None  # reused from the server's prompt cache (llama-server ``cache_n``)
    evaluated_prompt_tokens: int | None = None  # evaluated afresh by the server (llama-server ``prompt_n``)
    compaction: Summary | None = None  # the summary standing for the earliest turns (source "summary")
    instruction_files: list[str] = field(default_factory=list)  # project instructions in the system message
    attached: list[str] = field(default_factory=list)  # names of this turn's attachments
    instructions_from: list[str] = field(default_factory=list)  # MCP servers whose instructions were sent

    def record_server_timings(self, timings: dict[str, Any]) -> None:
        """Cached vs evaluated prompt tokens from llama-server's ``timings`` (nothing when absent)."""
        cached, evaluated = timings.get("cache_n"), timings.get("prompt_n")
        if isinstance(cached, int) and isinstance(evaluated, int):
            self.cached_prompt_tokens, self.evaluated_prompt_tokens = cached, evaluated

    @property
    def total_tokens(self) -> int:
        return sum(s.tokens for s in self.sources.values())

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (no message bodies)."""
        return {
            "window": self.window,
            "budget": self.budget,
            "counted_by": self.counted_by,
            "total_tokens": self.total_tokens,
            "actual_prompt_tokens": self.actual_prompt_tokens,
            "cached_prompt_tokens": self.cached_prompt_tokens,
            "evaluated_prompt_tokens": self.evaluated_prompt_tokens,
            "sources": {k: {"messages": v.messages, "tokens": v.tokens} for k, v in self.sources.items()},
            "dropped": {
                "turns": self.dropped_turns,
                "messages": self.dropped_messages,
                "tokens": self.dropped_tokens,
                "passages": self.dropped_passages,
            },
            "retrieval_budget": self.retrieval_budget,
            "kept_turns": self.kept_turns,
            "folded_tool_results": self.folded,
            "tools_in_prompt": self.tools_in_prompt,
            "instruction_files": self.instruction_files,
            "attached": list(self.attached),
            "server_instructions_from": list(self.instructions_from),
            "summarised": None if self.compaction is None else {
                "turns": self.compaction.turns, "messages": self.compaction.covered,
                "tokens_replaced": self.compaction.covered_tokens, "focus": self.compaction.focus,
            },
        }  # fmt: skip


def split_turns(messages: list[Message]) -> list[list[Message]]:
    """Group messages into turns: a user message and everything up to the next user message."""
    turns: list[list[Message]] = []
    for msg in messages:
        if msg.role == "user" or not turns:
            turns.append([msg])
        else:
            turns[-1].append(msg)
    return turns


def message_text(wire: dict[str, Any]) -> str:
    """The text a message contributes to the prompt (content plus any tool calls)."""
    text = wire.get("content") or ""
    if wire.get("tool_calls"):
        text += json.dumps(wire["tool_calls"], ensure_ascii=False)
    return str(text)


PASSAGES_HEAD = "[Passages from my files, most relevant first:]"
# Measured on the 0.5B (benchmarks/bench_grounded.py, 45 questions): asked only to name the file, it
# often answered with a bare number ("24", "4") that was wrong and could be traced to no passage.
# Asked to quote the line it used, it copies the line that holds the answer.
PASSAGES_ASK = ("[If these passages answer my question, answer from them in a sentence, then quote the line "
                "that says it and name its file and lines, like path:12-30. If they do not, ignore them.]")  # fmt: skip
KEY_LINES_HEAD = "[The lines of these passages that share the most words with my question:]"


def fold_passages(passages: list[dict[str, Any]], current: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Small models: retrieved passages inside the user's message, before the question, with the instruction.

    Seen on the 0.5B model: passages as separate system messages were retrieved but not used
    (2 of 5 right answers, no citation). In the user's turn, right before the question, they are.
    Most relevant first: with the order reversed (the best passage next to the question), the 0.5B
    answered 24 of 39 questions whose passage was retrieved, against 29 of 39, and cited the right
    file 85% of the time, against 97% (benchmarks/bench_grounded.py, 45 questions). Cut to the
    definition the question names (`def choice` for "random.choice"), the passages of 11 of those
    questions changed, and the 0.5B answered 8 of them right, against 9 uncut (greedy both times).
    The three lines sharing the most words with the question, repeated after the passages
    (assistant/keylines.py): 30 of 39 right against 28, none lost, the right `path:lines` cited 33
    times against 29.
    """
    from assistant.keylines import key_lines
    from assistant.retrieval.retriever import PREAMBLE

    bodies = [str(p.get("content") or "").removeprefix(PREAMBLE).strip() for p in passages]
    asked = next((str(m.get("content") or "") for m in current if m.get("role") == "user"), "")
    keys = key_lines(asked, bodies) if asked else []
    lines = f"\n\n{KEY_LINES_HEAD}\n" + "\n".join(keys) if keys else ""
    block = PASSAGES_HEAD + "\n\n" + "\n\n".join(bodies) + lines + "\n\n" + PASSAGES_ASK
    out = [dict(m) for m in current]
    for msg in out:
        if msg.get("role") == "user":
            msg["content"] = f"{block}\n\n{msg.get('content') or ''}"
            return out
    return [{"role": "user", "content": block}, *out]


@dataclass(frozen=True)
class TurnExtras:
    """What a turn adds besides messages: MCP servers' instructions (appended to the system prompt)
    and attachments (folded into the user's message; see assistant/attachments.py)."""

    instructions: str = ""
    instructions_from: tuple[str, ...] = ()
    attachments: tuple[Any, ...] = ()  # assistant.attachments.Attachment

    def text(self) -> str:
        from assistant.attachments import attachment_tokens_text

        return attachment_tokens_text(list(self.attachments))

    def image_tokens(self) -> int:
        from assistant.attachments import IMAGE_TOKENS_ESTIMATE

        return IMAGE_TOKENS_ESTIMATE * sum(1 for a in self.attachments if a.kind == "image")


class ContextBuilder:
    def __init__(
        self,
        counter: TokenCounter,
        window: int,
        *,
        reserve: int = 1024,
        refill: float = 0.6,
        fold_tool_results: bool = False,
        retrieval_share: float = 0.25,
        tool_prompt: Callable[[list[dict[str, Any]]], str] | None = None,
    ) -> None:
        self.counter = counter
        self.estimate = counter if counter.method == "estimate" else EstimateCounter()
        # With a tool_prompt, the tools are described in the system prompt (text), not sent as the
        # request's `tools` field (grammar-constrained profiles); report.tools still lists them.
        self.tool_prompt = tool_prompt
        self.retrieval_share = retrieval_share
        self.window = window
        self.reserve = min(reserve, window // 2)
        self.refill = refill
        self.fold = fold_tool_results
        self._cut = 0  # index of the first history turn kept; sticky while it fits

    def render(self, turn: list[Message]) -> list[dict[str, Any]]:
        return fold_tool_exchanges(turn) if self.fold else [m.to_wire() for m in turn]

    async def _tokens(self, wires: list[dict[str, Any]], counter: TokenCounter) -> list[int]:
        counts = await counter.count([message_text(w) for w in wires])
        return [c + PER_MESSAGE_TOKENS for c in counts]

    async def build(
        self,
        system_prompt: str | None,
        messages: list[Message],
        tools: list[dict[str, Any]],
        retrieved: list[dict[str, Any]] | None = None,
        summary: Summary | None = None,
        instructions: str | None = None,
        extra: TurnExtras | None = None,
    ) -> ContextReport:
        """The request for the next step. The last turn (the current one) is never dropped.

        With a ``summary`` (compaction), its messages stand for the first ``summary.covered`` messages.
        ``instructions`` (the project's, e.g. AGENTS.md) follow the system prompt in the system message.
        ``extra``: MCP servers' instructions (after those) and this turn's attachments (in its user message).

        When everything surely fits (each token is at least one byte), exact counting from the
        server's tokenizer does not hold the request back: the report starts with estimates and is
        corrected in the background (``report.exact`` finishes it), long before anyone reads it.
        """
        if summary is not None:
            messages = messages[summary.covered :]
        args = (system_prompt, messages, tools, retrieved, summary, instructions, extra)
        if self.counter.method == "server" and self._surely_fits(*args):
            import asyncio

            report = await self._build(self.estimate, *args)
            report.exact = asyncio.ensure_future(self._correct(report, *args))
            return report
        return await self._build(self.counter, *args)

    def _surely_fits(self, system_prompt: str | None, messages: list[Message], tools: list[dict[str, Any]],
                     retrieved: list[dict[str, Any]] | None, summary: Summary | None,
                     instructions: str | None, extra: TurnExtras | None = None) -> bool:  # fmt: skip
        """An upper bound: UTF-8 bytes, plus the template's tokens, within the prompt budget."""
        wires = [m.to_wire() for m in messages] + list(retrieved or [])
        wires += summary.to_wire() if summary is not None else []
        size = len((system_prompt or "").encode("utf-8", "surrogatepass"))
        size += len((instructions or "").encode("utf-8", "surrogatepass"))
        if extra is not None:
            size += len((extra.text() + extra.instructions).encode("utf-8", "surrogatepass")) + extra.image_tokens()
        size += sum(len(message_text(w).encode("utf-8", "surrogatepass")) for w in wires)
        if tools:
            if self.tool_prompt is not None:
                text = self.tool_prompt(list(tools))
            else:
                text = json.dumps(tools, ensure_ascii=False)
            size += len(text.encode("utf-8", "surrogatepass")) + TOOLS_PREAMBLE_TOKENS
        size += PER_MESSAGE_TOKENS * (len(wires) + 1)
        return size <= self.window - self.reserve

    async def _correct(self, report: ContextReport, *args: Any) -> None:
        try:
            exact = await self._build(self.counter, *args)
        except Exception:
            return  # the estimates stay (counted_by says so)
        report.sources, report.counted_by = exact.sources, exact.counted_by
        report.retrieval_budget = exact.retrieval_budget

    async def _build(
        self,
        counter: TokenCounter,
        system_prompt: str | None,
        messages: list[Message],
        tools: list[dict[str, Any]],
        retrieved: list[dict[str, Any]] | None = None,
        summary: Summary | None = None,
        instructions: str | None = None,
        extra: TurnExtras | None = None,
    ) -> ContextReport:
        report = ContextReport(self.window, self.window - self.reserve, counter.method, folded=self.fold)
        head: list[dict[str, Any]] = [{"role": "system", "content": system_prompt}] if system_prompt else []
        head_tokens = await self._tokens(head, counter)
        report.sources["system"] = SourceReport(len(head), sum(head_tokens))
        if instructions:  # in the system message, after the system prompt; counted on their own
            (count,) = await counter.count([instructions])
            report.sources["instructions"] = SourceReport(0 if head else 1, count + (2 if head else PER_MESSAGE_TOKENS))
            system_prompt = f"{system_prompt}\n\n{instructions}" if system_prompt else instructions
            head = [{"role": "system", "content": system_prompt}]
        if extra is not None and extra.instructions:
            system_prompt = await self._add_server_instructions(report, system_prompt, extra, counter)
            head = [{"role": "system", "content": system_prompt}]
        if tools and self.tool_prompt is not None:
            block = self.tool_prompt(list(tools))
            (tool_tokens,) = await counter.count([block])
            report.sources["tools"] = SourceReport(len(tools), tool_tokens)
            report.tools_in_prompt = True
            head = [{"role": "system", "content": f"{system_prompt}\n\n{block}" if system_prompt else block}]
        elif tools:
            (tool_tokens,) = await counter.count([json.dumps(tools, ensure_ascii=False)])
            report.sources["tools"] = SourceReport(len(tools), tool_tokens + TOOLS_PREAMBLE_TOKENS)
        head += await self._account_summary(report, summary, counter)
        turns = split_turns(messages)
        current = turns.pop() if turns else []
        current_wire = self.render(current)
        await self._account_current(report, current, current_wire, counter)
        await self._account_attachments(report, extra, counter)
        passages = await self._fit_retrieved(report, list(retrieved or []), counter)
        fixed = sum(s.tokens for s in report.sources.values())
        if fixed > report.budget:
            raise ContextOverflow(
                f"This message needs about {fixed:,} tokens with the system prompt and tools, but the context "
                f"window is {self.window:,} tokens ({report.budget:,} after keeping {self.reserve:,} for the answer).",
                hint="Shorten it, or use a model with a larger context.",
            )
        rendered = [self.render(t) for t in turns]
        sizes = [sum(await self._tokens(w, counter)) for w in rendered]
        start = self._choose_cut(sizes, report.budget - fixed)
        kept = [w for ws in rendered[start:] for w in ws]
        report.sources["history"] = SourceReport(len(kept), sum(sizes[start:]))
        report.kept_turns = len(turns) - start
        report.dropped_turns = start
        report.dropped_messages = sum(len(t) for t in turns[:start])
        report.dropped_tokens = sum(sizes[:start])
        if self.fold and passages:
            current_wire = fold_passages(passages, current_wire)
            passages = []
        if extra is not None and extra.attachments:
            from assistant.attachments import fold_attachments

            current_wire = fold_attachments(current_wire, list(extra.attachments))
        report.messages = head + kept + passages + current_wire
        report.tools = list(tools)
        return report

    async def _add_server_instructions(self, report: ContextReport, system_prompt: str | None, extra: TurnExtras,
                                       counter: TokenCounter) -> str:  # fmt: skip
        """MCP servers' instructions, in the system message after the system prompt: their own source."""
        (tokens,) = await counter.count([extra.instructions])
        report.sources["server_instructions"] = SourceReport(len(extra.instructions_from), tokens + 2)
        report.instructions_from = list(extra.instructions_from)
        return f"{system_prompt}\n\n{extra.instructions}" if system_prompt else extra.instructions

    async def _account_attachments(self, report: ContextReport, extra: TurnExtras | None,
                                   counter: TokenCounter) -> None:  # fmt: skip
        if extra is None or not extra.attachments:
            return
        text = extra.text()
        (tokens,) = await counter.count([text]) if text else (0,)
        report.sources["attachments"] = SourceReport(len(extra.attachments), tokens + extra.image_tokens())
        report.attached = [a.name for a in extra.attachments]

    async def _account_summary(
        self, report: ContextReport, summary: Summary | None, counter: TokenCounter
    ) -> list[dict[str, Any]]:
        """The summary's messages (after the system prompt, before the history): their own source."""
        if summary is None:
            return []
        wire = summary.to_wire()
        report.sources["summary"] = SourceReport(len(wire), sum(await self._tokens(wire, counter)))
        report.compaction = summary
        return wire

    async def _fit_retrieved(
        self, report: ContextReport, passages: list[dict[str, Any]], counter: TokenCounter
    ) -> list[dict[str, Any]]:
        """The passages (most relevant first) that fit the retrieval budget; the rest are dropped."""
        used = sum(s.tokens for s in report.sources.values())
        report.retrieval_budget = max(0, min(int(report.budget * self.retrieval_share), report.budget - used))
        sizes = await self._tokens(passages, counter)
        kept, total = 0, 0
        while kept < len(passages) and total + sizes[kept] <= report.retrieval_budget:
            total += sizes[kept]
            kept += 1
        report.sources["retrieval"] = SourceReport(kept, total)
        report.dropped_passages = len(passages) - kept
        return passages[:kept]

    async def _account_current(
        self, report: ContextReport, current: list[Message], wire: list[dict[str, Any]], counter: TokenCounter
    ) -> None:
        tokens = await self._tokens(wire, counter)
        if self.fold or not current:
            report.sources["input"] = SourceReport(len(wire), sum(tokens))
            if self.fold and len(current) > 1:  # results folded into the input message
                results = [m for m in current if m.role == "tool"]
                counted = await self._tokens([m.to_wire() for m in results], counter)
                share = min(sum(counted), report.sources["input"].tokens)
                report.sources["tool_results"] = SourceReport(len(results), share)
                report.sources["input"].tokens -= share
            return
        report.sources["input"] = SourceReport(1, tokens[0])
        report.sources["tool_results"] = SourceReport(len(wire) - 1, sum(tokens[1:]))

    def _choose_cut(self, sizes: list[int], room: int) -> int:
        """First history turn to keep: the sticky cut if it still fits, else a deeper one."""
        start = min(self._cut, len(sizes))
        if sum(sizes[start:]) <= room:
            self._cut = start
            return start
        target = int(room * self.refill)
        total = sum(sizes[start:])
        while start < len(sizes) and total > target:
            total -= sizes[start]
            start += 1
        self._cut = start
        return start

    def reset(self) -> None:
        self._cut = 0
