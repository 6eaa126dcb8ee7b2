"""Compaction against the scripted server: what is summarised, what the next requests carry, the faults."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from assistant.agent import Agent
from assistant.compaction import CompactionFailed, NothingToCompact, compact_threshold
from assistant.context import ContextBuilder, EstimateCounter
from assistant.conversation import SUMMARY_HEAD, Conversation, Message
from assistant.errors import ConfigError
from assistant.events import Notice
from assistant.history import History
from tests.scripted_server import Reply, ScriptedServer, scripted_endpoint, text

SYSTEM = "You are terse. SYSTEM-MARKER."
pytestmark = pytest.mark.usefixtures("close_endpoints")


def fact_turns(n: int) -> list[Message]:
    """n turns of ~240 tokens each (estimated), turn i planting FACT-i."""
    out = []
    for i in range(1, n + 1):
        out.append(Message("user", f"Remember FACT-{i}: the code for box {i} is {1000 + i}. " + "filler " * 60))
        out.append(Message("assistant", f"Noted FACT-{i}. " + "words " * 60))
    return out


def make_agent(server: ScriptedServer, conv: Conversation | None = None, compact_at: float | None = 0.8,
               window: int = 4096, turns: int = 14) -> Agent:  # fmt: skip
    """With the default window: a budget of 3,840 tokens, compaction past 3,277 tokens; 14 turns (~250 tokens
    each) pass it, and the last 3 fit in the quarter of the budget kept word for word: 11 are summarised."""
    ep = scripted_endpoint(server)
    builder = ContextBuilder(EstimateCounter(), window, reserve=256)
    return Agent(ep, conversation=conv or Conversation(messages=fact_turns(turns)), system_prompt=SYSTEM,
                 builder=builder, compact_at=compact_at)  # fmt: skip


async def run(agent: Agent, text_: str) -> list[Any]:
    return [e async for e in agent.run(text_)]


def summary_request(req: dict[str, Any]) -> str:
    assert "tools" not in req and req["messages"][0]["role"] == "system"
    assert "replace the earlier part of a conversation" in req["messages"][0]["content"]
    return str(req["messages"][1]["content"])


async def test_near_the_window_earlier_turns_are_summarised_once_and_reused(scripted: ScriptedServer) -> None:
    scripted.script(text("- FACT-1 code 1001\n- FACT-2 code 1002"), text("Answer one."), text("Answer two."))
    agent = make_agent(scripted)
    events = await run(agent, "CURRENT question?")
    asked = summary_request(scripted.requests[0])
    assert "FACT-1:" in asked and "FACT-11:" in asked
    assert "FACT-12" not in asked and "FACT-14" not in asked, "the most recent turns are kept word for word"
    assert "CURRENT" not in asked and "SYSTEM-MARKER" not in asked, "never the current turn or the system prompt"
    sent = scripted.requests[1]["messages"]
    assert sent[0] == {"role": "system", "content": SYSTEM}
    assert sent[1]["role"] == "user" and sent[1]["content"].startswith(SUMMARY_HEAD.format(turns=11))
    assert "FACT-1 code 1001" in sent[1]["content"] and sent[2]["role"] == "assistant"
    assert "FACT-1:" not in str(sent[3:]) and "FACT-14" in str(sent) and sent[-1]["content"] == "CURRENT question?"
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert any("summarising 11 earlier turn(s)" in n for n in notices) and any("Compacted 11" in n for n in notices)
    report = agent.last_report
    assert report is not None and report.compaction is not None and report.dropped_turns == 0
    assert report.sources["summary"].messages == 2 and report.sources["summary"].tokens > 0
    assert report.summary()["summarised"]["turns"] == 11
    assert len(agent.conversation.messages) == 28 + 2, "compaction is a view: every message is still there"
    await run(agent, "And now?")  # the summary is reused: no second summary request
    assert len(scripted.requests) == 3
    assert scripted.requests[2]["messages"][1] == sent[1]


async def test_the_summary_is_stored_reloaded_and_undone(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.script(text("- FACT-1 code 1001"), text("Answer."), text("Full again."))
    with History(tmp_path / "h.db") as store:
        conv = Conversation.create(store)
        for m in fact_turns(32):  # past the budget: without the summary, turns must be dropped
            conv.add(m)
        agent = make_agent(scripted, conv, window=8192)
        await run(agent, "q1")
        again = Conversation.load(store, conv.id)
        assert again.summary is not None and again.summary.text == "- FACT-1 code 1001"
        assert again.summary.covered == 48 and again.summary.tokens > 0 and len(again.messages) == 66
        assert again.summary.titles[0].startswith("Remember FACT-1")
        assert agent.uncompact() is True and agent.compactor.compact_at is None, "or the next turn redoes it"
        assert Conversation.load(store, conv.id).summary is None
        await run(agent, "q2")
        sent = scripted.requests[2]["messages"]
        assert not any(SUMMARY_HEAD[:20] in str(m.get("content")) for m in sent)
        assert agent.last_report is not None and agent.last_report.dropped_turns > 0, "back to dropping"


@pytest.mark.parametrize(
    "reply, reason",
    [
        (Reply(kind="status", status=400, body={"error": {"message": "no"}}), "summary request failed"),
        (text(""), "empty summary"),
        (Reply(chunks=[{"content": "word " * 20}], finish_reason="length"), "token limit"),
        ([text("verbose " * 3000, pieces=40), text("still " * 3000, pieces=40)], "over its"),
        (Reply(kind="cut", chunks=[{"content": "half"}] * 3, cut_after=2), "broke"),
    ],
)
async def test_a_failed_compaction_drops_turns_with_one_line(scripted: ScriptedServer, reply: Reply | list[Reply],
                                                             reason: str) -> None:  # fmt: skip
    scripted.script(*(reply if isinstance(reply, list) else [reply]), text("Answered anyway."))
    agent = make_agent(scripted, window=8192, turns=32)  # past the budget: the oldest turns must go
    events = await run(agent, "q")
    warnings = [e.message for e in events if isinstance(e, Notice) and e.level == "warning"]
    assert len(warnings) == 1 and "Compaction failed" in warnings[0] and reason in warnings[0], warnings
    assert agent.conversation.summary is None and len(agent.conversation.messages) == 66
    report = agent.last_report
    assert report is not None and report.dropped_turns > 0 and report.compaction is None
    assert scripted.requests[-1]["messages"][-1]["content"] == "q"


async def test_a_transcript_longer_than_the_window_is_summarised_in_pieces(scripted: ScriptedServer) -> None:
    scripted.script(text("- part one"), text("- part two"), text("ok"))
    agent = make_agent(scripted, Conversation(messages=fact_turns(8)), window=2048)
    await run(agent, "q")
    first, second = summary_request(scripted.requests[0]), summary_request(scripted.requests[1])
    assert "FACT-1:" in first and "FACT-1:" not in second and "FACT-7" in second and "FACT-8" not in second
    assert agent.conversation.summary is not None and agent.conversation.summary.text == "- part one\n- part two"
    assert "- part one\n- part two" in scripted.requests[2]["messages"][1]["content"]


async def test_notes_that_outgrow_the_limit_are_shortened_by_the_model(scripted: ScriptedServer) -> None:
    long_notes = "\n".join(f"- note {i} about box {i}" for i in range(90))  # ~570 tokens: past the 448 limit
    scripted.script(text(long_notes, pieces=30), text("- boxes 0 to 59"), text("- part two"), text("ok"))
    agent = make_agent(scripted, Conversation(messages=fact_turns(8)), window=2048)
    await run(agent, "q")
    shorten = summary_request(scripted.requests[1])
    assert shorten.startswith("Notes:\n- note 0 about box 0") and "- note 89" in shorten and "Shorten" in shorten
    assert agent.conversation.summary is not None
    assert agent.conversation.summary.text == "- boxes 0 to 59\n- part two"


async def test_a_summary_no_shorter_than_the_turns_is_refused(scripted: ScriptedServer) -> None:
    scripted.script(text("- " + "detail " * 60))
    agent = make_agent(scripted, Conversation(messages=[Message("user", "hi"), Message("assistant", "hello"),
                                                        Message("user", "bye")]))  # fmt: skip
    with pytest.raises(CompactionFailed, match="no shorter than the turns it would replace"):
        await agent.compact()
    assert agent.conversation.summary is None


async def test_a_summary_going_round_in_a_loop_is_cut_and_kept_once(scripted: ScriptedServer) -> None:
    looping = "- FACT-1 code 1001\n- FACT-2 code 1002\n" + "- FACT-1 code 1001\n- FACT-2 code 1002\n" * 40
    scripted.script(text(looping, pieces=60), text("ok"))
    agent = make_agent(scripted)
    await run(agent, "q")
    assert agent.conversation.summary is not None
    assert agent.conversation.summary.text == "- FACT-1 code 1001\n- FACT-2 code 1002"


async def test_compact_at_off_keeps_dropping(scripted: ScriptedServer) -> None:
    scripted.script(text("Dropped some."))
    agent = make_agent(scripted, compact_at=None, window=8192, turns=32)
    await run(agent, "q")
    assert len(scripted.requests) == 1 and agent.last_report is not None and agent.last_report.dropped_turns > 0


async def test_manual_compaction_with_focus_and_incremental_summaries(scripted: ScriptedServer) -> None:
    scripted.script(text("- first summary, box codes"), text("Reply."), text("- second summary"))
    agent = make_agent(scripted, Conversation(messages=fact_turns(3)), compact_at=None)
    summary = await agent.compact("the box codes")
    asked = summary_request(scripted.requests[0])
    assert "Pay particular attention to: the box codes" in asked and "FACT-1" in asked
    assert summary.turns == 2 and summary.covered == 4 and summary.focus == "the box codes"
    with pytest.raises(NothingToCompact):
        await agent.compact()  # only the last turn is left, and it is kept
    agent.conversation.messages += fact_turns(4)[6:]  # one more turn: FACT-4
    await run(agent, "q")
    second = await agent.compact()
    asked = summary_request(scripted.requests[2])
    assert "- first summary" not in asked and "FACT-3" in asked and "FACT-1" not in asked, "only the turns since"
    assert second.text == "- first summary, box codes\n- second summary", "notes on them appended to the earlier"
    assert second.turns == 4 and second.covered == 8 and second.titles[0].startswith("Remember FACT-1")


async def test_retry_past_the_summary_drops_it(scripted: ScriptedServer) -> None:
    scripted.script(text("- s"))
    agent = make_agent(scripted, Conversation(messages=fact_turns(2)), compact_at=None)
    summary = await agent.compact()
    assert summary.covered == 2 and agent.conversation.pop_last_turn() is not None
    assert agent.conversation.summary is not None  # still valid: it covers turn 1 only
    agent.conversation.pop_last_turn()
    assert agent.conversation.summary is None


async def test_context_view_lists_the_summarised_turns(scripted: ScriptedServer) -> None:
    from assistant.cli.commands import plain_console
    from assistant.cli.context_view import context_report

    scripted.script(text("- FACT-1 code 1001"), text("ok"))
    agent = make_agent(scripted)
    await run(agent, "q")
    console = plain_console(io.StringIO())
    console.print(context_report(agent.last_report))
    shown = console.file.getvalue()
    assert "summary of earlier turns" in shown and "Summarised: the first 11 turn(s) (22 messages" in shown
    assert "1. Remember FACT-1: the code for box 1 is 1001." in shown


def test_compact_at_setting() -> None:
    assert compact_threshold("off") is None and compact_threshold("0.7") == 0.7 and compact_threshold(0.5) == 0.5
    for bad in (2, "abc", 0.01, True):
        with pytest.raises(ConfigError):
            compact_threshold(bad)
    assert issubclass(NothingToCompact, CompactionFailed)


def test_bad_compact_at_is_refused_before_anything_starts() -> None:
    from assistant.config import load_settings

    with pytest.raises(ConfigError, match="compact_at"):
        load_settings({"compact_at": "sometimes"}, env={})
    assert load_settings({}, env={"ASSISTANT_COMPACT_AT": "off"}).compact_at == "off"
