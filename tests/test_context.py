"""The context builder: per-source report, whole-turn dropping, sticky cut, real tokenizer."""

from __future__ import annotations

from typing import Any

import pytest

from assistant import Assistant
from assistant.agent import Agent
from assistant.context import (
    PER_MESSAGE_TOKENS,
    ContextBuilder,
    EstimateCounter,
    ServerTokenizer,
    detect_counter,
)
from assistant.conversation import Message
from assistant.endpoint import Endpoint, EndpointConfig
from assistant.events import ContextEvent, ToolCall, TurnEnd
from tests.scripted_server import ScriptedServer, text

TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}}
]


def history(turns: int, words: int = 60, with_tools_every: int = 0) -> list[Message]:
    msgs: list[Message] = []
    for i in range(turns):
        msgs.append(Message("user", f"question {i} " + "lorem " * words))
        if with_tools_every and i % with_tools_every == 0:
            call = ToolCall(f"c{i}", "f", "{}")
            msgs.append(Message("assistant", None, tool_calls=[call]))
            msgs.append(Message("tool", f"result {i} " + "ipsum " * words, tool_call_id=f"c{i}", name="f"))
        msgs.append(Message("assistant", f"answer {i} " + "dolor " * words))
    return msgs


async def test_report_counts_every_source() -> None:
    builder = ContextBuilder(EstimateCounter(), 100_000)
    msgs = [*history(3), Message("user", "now this")]
    report = await builder.build("be brief", msgs, TOOLS)
    s = report.sources
    assert (s["system"].messages, s["tools"].messages, s["history"].messages, s["input"].messages) == (1, 1, 6, 1)
    assert s["input"].tokens == round(len("now this") / 3.5) + PER_MESSAGE_TOKENS
    assert report.total_tokens == sum(x.tokens for x in s.values()) and report.dropped_turns == 0
    assert [m["content"] for m in report.messages][-1] == "now this" and report.tools == TOOLS
    assert report.counted_by == "estimate"


async def test_current_turn_tool_results_are_their_own_source() -> None:
    builder = ContextBuilder(EstimateCounter(), 100_000)
    call = ToolCall("c", "f", "{}")
    msgs = [
        Message("user", "go"),
        Message("assistant", None, tool_calls=[call]),
        Message("tool", "r" * 70, tool_call_id="c"),
    ]
    report = await builder.build(None, msgs, [])
    assert report.sources["input"].messages == 1 and report.sources["tool_results"].messages == 2
    assert report.sources["tool_results"].tokens >= 20


async def test_drops_oldest_whole_turns_never_splitting_tool_pairs() -> None:
    builder = ContextBuilder(EstimateCounter(), 4000, reserve=500)
    msgs = [*history(40, with_tools_every=3), Message("user", "latest")]
    report = await builder.build("sys", msgs, [])
    assert report.dropped_turns > 0 and report.total_tokens <= report.budget
    sent = report.messages
    assert sent[0]["role"] == "system" and sent[1]["role"] == "user"  # history starts at a turn boundary
    for i, m in enumerate(sent):
        if m["role"] == "tool":
            assert sent[i - 1].get("tool_calls"), "a tool result must follow its call"
    kept_questions = [m["content"].split()[1] for m in sent if m["role"] == "user" and m["content"] != "latest"]
    assert kept_questions == [str(i) for i in range(report.dropped_turns, 40)]  # oldest went first
    assert report.dropped_messages + report.sources["history"].messages == len(msgs) - 1


async def test_cut_is_sticky_so_the_prompt_prefix_stays_stable() -> None:
    builder = ContextBuilder(EstimateCounter(), 4000, reserve=500)
    msgs = history(40)
    first = await builder.build("sys", [*msgs, Message("user", "a")], [])
    msgs += [Message("user", "a"), Message("assistant", "b")]
    second = await builder.build("sys", [*msgs, Message("user", "c")], [])
    assert first.dropped_turns > 0
    assert second.messages[1] == first.messages[1], (
        "same first history message: the server's prompt cache still applies"
    )
    assert second.dropped_turns == first.dropped_turns


async def test_agent_sends_exactly_the_report(scripted: ScriptedServer) -> None:
    scripted.script(text("one"), text("two"))
    ep = Endpoint(EndpointConfig(base_url=scripted.base_url, model="m"))
    agent = Agent(ep, system_prompt="sys")
    await agent.ask("first")
    events = [e async for e in agent.run("second")]
    report = next(e.report for e in events if isinstance(e, ContextEvent))
    assert scripted.requests[1]["messages"] == report.messages
    assert report.sources["history"].messages == 2 and report.actual_prompt_tokens == 10  # from usage
    assert isinstance(events[-1], TurnEnd)
    await ep.aclose()


async def test_non_llama_endpoint_falls_back_to_estimates(scripted: ScriptedServer) -> None:
    counter, window = await detect_counter(scripted.base_url)
    assert isinstance(counter, EstimateCounter) and window is None


@pytest.mark.slow
async def test_real_server_tokenizer_and_window(local_data: Any) -> None:
    from assistant.local.server import open_local_server

    async with open_local_server() as srv:
        counter, window = await detect_counter(srv.base_url, srv.api_key)
        assert isinstance(counter, ServerTokenizer) and window == 8192
        assert await counter.count(["Hello world, how are you?", ""]) == [7, 0]
        await counter.aclose()


@pytest.mark.slow
async def test_200_turn_conversation_keeps_working_on_the_local_model(local_data: Any) -> None:
    """A history far longer than the 8k window: each new turn completes; the report shows the drops.
    (Compaction off: this is the dropping path; tests/test_e2e_compaction_local.py has the other.)"""
    async with Assistant(temperature=0.0, max_tokens=24, compact_at="off") as bot:
        for m in history(200, words=40):
            bot.conversation.add(m)
        for question in ("Reply with the word: apple", "Reply with the word: pear", "Reply with the word: plum"):
            events = [e async for e in bot.stream(question)]
            report = bot.last_report
            assert report is not None and isinstance(events[-1], TurnEnd)
            assert report.counted_by == "server" and report.window == 8192
            assert report.dropped_turns > 100 and report.kept_turns > 0
            assert report.actual_prompt_tokens is not None and report.actual_prompt_tokens <= report.budget
            # our count matches what the server says it processed, within template overhead
            assert abs(report.total_tokens - report.actual_prompt_tokens) < 0.1 * report.actual_prompt_tokens


class _GatedCounter:
    """A "server" tokenizer that answers only when let through (and counts words)."""

    method = "server"

    def __init__(self) -> None:
        import asyncio

        self.gate = asyncio.Event()
        self.calls = 0

    async def count(self, texts: list[str]) -> list[int]:
        self.calls += 1
        await self.gate.wait()
        return [len(t.split()) for t in texts]


async def test_exact_counting_does_not_hold_back_a_request_that_surely_fits() -> None:
    import asyncio

    counter = _GatedCounter()
    builder = ContextBuilder(counter, 32768)  # type: ignore[arg-type]
    msgs = [*history(2), Message("user", "and now?")]
    report = await asyncio.wait_for(builder.build("sys prompt", msgs, TOOLS), 1.0)  # not waiting on the gate
    assert report.counted_by == "estimate" and report.exact is not None
    assert [m["content"] for m in report.messages][-1] == "and now?"
    counter.gate.set()
    await report.exact
    assert report.counted_by == "server"
    assert report.sources["input"].tokens == 2 + PER_MESSAGE_TOKENS  # the exact count replaced the estimate


async def test_a_request_near_the_window_waits_for_exact_counts() -> None:
    import asyncio

    counter = _GatedCounter()
    builder = ContextBuilder(counter, 2048, reserve=512)  # type: ignore[arg-type]
    msgs = [*history(20), Message("user", "and now?")]
    pending = asyncio.ensure_future(builder.build("sys prompt", msgs, TOOLS))
    await asyncio.sleep(0.2)
    assert not pending.done()  # it may need to drop turns: exact counts first
    counter.gate.set()
    report = await pending
    assert report.counted_by == "server" and report.exact is None


async def test_cached_and_evaluated_prompt_tokens_per_request(scripted: ScriptedServer) -> None:
    """llama-server's timings (cache_n, prompt_n) reach the report, /context and the JSON events."""
    import io

    from assistant.cli.commands import plain_console
    from assistant.cli.context_view import context_report
    from assistant.events import Timing, event_to_dict

    first, second = text("one"), text("two")
    first.extra_final = {"timings": {"cache_n": 0, "prompt_n": 1738, "predicted_per_second": 20.0}}
    second.extra_final = {"timings": {"cache_n": 1726, "prompt_n": 12}}
    scripted.script(first, second)
    ep = Endpoint(EndpointConfig(base_url=scripted.base_url, model="m"))
    agent = Agent(ep, system_prompt="sys")
    await agent.ask("first")
    assert agent.last_report is not None
    assert (agent.last_report.cached_prompt_tokens, agent.last_report.evaluated_prompt_tokens) == (0, 1738)
    events = [e async for e in agent.run("second")]
    report = agent.last_report
    assert (report.cached_prompt_tokens, report.evaluated_prompt_tokens) == (1726, 12)
    assert report.summary()["cached_prompt_tokens"] == 1726
    console = plain_console(io.StringIO())
    console.print(context_report(report))
    assert "12 prompt tokens evaluated, 1,726 reused" in console.file.getvalue()
    timing = event_to_dict(next(e for e in events if isinstance(e, Timing)))
    assert timing["prompt_tokens_cached"] == 1726 and timing["prompt_tokens_evaluated"] == 12
    await ep.aclose()


async def test_no_timings_no_cache_figures(scripted: ScriptedServer) -> None:
    scripted.script(text("plain"))  # an endpoint that is not llama-server sends no timings
    ep = Endpoint(EndpointConfig(base_url=scripted.base_url, model="m"))
    agent = Agent(ep, system_prompt="sys")
    await agent.ask("hello")
    assert agent.last_report is not None and agent.last_report.cached_prompt_tokens is None
    await ep.aclose()
