"""End to end (slow): the real 0.5B model, through the agent loop, reads a file with the built-in `files` server."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import Assistant
from assistant.events import ToolCallReady, ToolResult, TurnEnd
from assistant.toolhub import McpOptions
from tests.mcp_helpers import builtin, new_tag, tagged, wait_gone

pytestmark = pytest.mark.slow


async def test_local_model_answers_from_a_file_read_over_mcp(local_data: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "notes.txt").write_text("The secret word is pelican.\n")
    tag = new_tag()
    options = McpOptions(workspace=ws, servers=[builtin("files", ws, tag)])
    async with Assistant(temperature=0.0, max_tokens=200, history=False, mcp=options) as bot:
        assert bot.hub is not None and bot.hub.servers["files"].state == "connected"
        assert "read_file" in bot.tools.names()
        events = [e async for e in bot.stream("Read the file notes.txt and tell me the secret word in it.")]
    calls = [e.call for e in events if isinstance(e, ToolCallReady)]
    results = [e for e in events if isinstance(e, ToolResult)]
    end = events[-1]
    assert calls and calls[0].name == "read_file" and "notes.txt" in calls[0].arguments, f"calls: {calls}, {end}"
    assert results[0].content == "The secret word is pelican." and not results[0].is_error
    assert isinstance(end, TurnEnd) and "pelican" in end.text.lower(), end
    assert wait_gone(lambda: tagged(tag)) == [], "the files server is gone with the assistant"
