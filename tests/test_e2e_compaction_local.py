"""Compaction end to end on the real local model (slow): the summary is written, kept and used."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import Assistant
from assistant.conversation import Message

pytestmark = pytest.mark.slow

FACTS = [("My sister's name is Alma.", "Alma"), ("The office wifi password is tangerine-42.", "tangerine-42"),
         ("The staging server listens on port 8443.", "8443")]  # fmt: skip


def long_conversation() -> list[Message]:
    msgs: list[Message] = []
    for said, _ in FACTS:
        msgs += [Message("user", f"Please remember this: {said}"), Message("assistant", f"Noted: {said}")]
    for topic in ("list comprehensions", "git stash", "SQLite indexes", "HTTP caching"):
        msgs += [Message("user", f"Explain {topic}, briefly."),
                 Message("assistant", f"{topic.capitalize()} in short: " + "it saves work when used well. " * 25)]
    return msgs


async def test_the_local_model_writes_a_summary_that_keeps_the_facts(local_data: Path) -> None:
    async with Assistant(history=False, mcp=False, retrieval="off", temperature=0.0, max_tokens=48,
                         compact_at="off") as bot:  # fmt: skip
        bot.conversation.messages = long_conversation()
        summary = await bot.compact("the facts the user gave")
        assert summary.turns == 6 and summary.covered == 12, "all but the last turn"
        assert 0 < summary.tokens < summary.covered_tokens
        kept = [value for _, value in FACTS if value.lower() in summary.text.lower()]
        assert len(kept) >= 2, f"the summary lost the planted facts: {summary.text!r}"
        answer = await bot.ask("What is my sister's name? Answer in a few words.")
        report = bot.last_report
        assert report is not None and report.sources["summary"].tokens > 0
        sent = report.messages
        assert sent[1]["role"] == "user" and summary.text in sent[1]["content"]
        assert "Please remember this" not in str(sent[3:]), "the summarised turns are not sent again"
        assert answer.strip(), "the model answered from the compacted context"
        assert len(bot.conversation.messages) == 16, "every message is still in the conversation"
