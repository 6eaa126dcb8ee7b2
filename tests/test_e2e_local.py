"""End to end against the real embedded llama-server and the real 0.5B model (slow)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.events import TextDelta, ToolCallReady, ToolResult, TurnEnd

pytestmark = pytest.mark.slow


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


async def test_streamed_answer_and_server_gone_after_exit(local_data: Path) -> None:
    async with Assistant(temperature=0.0, max_tokens=64) as bot:
        assert bot.local_server is not None and bot.local_server.owned
        pid = bot.local_server.pid
        events = [e async for e in bot.stream("Count from 1 to 10, separated by commas.")]
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 1, "the answer should arrive as several streamed deltas"
    end = events[-1]
    assert isinstance(end, TurnEnd) and "1, 2, 3" in end.text
    assert pid is not None and not pid_alive(pid), "llama-server must be stopped when the assistant exits"


async def test_real_tool_call_round_trip(local_data: Path) -> None:
    calls: list[str] = []
    async with Assistant(temperature=0.0, max_tokens=200) as bot:

        @bot.tool
        def get_weather(city: str) -> str:
            """Get the current weather for a city.

            Args:
                city: Name of the city.
            """
            calls.append(city)
            return f"{city}: 17 degrees Celsius, light rain"

        events = [e async for e in bot.stream("What is the weather in Oslo right now?")]
        history = bot.conversation.messages
    ready = [e.call for e in events if isinstance(e, ToolCallReady)]
    results = [e for e in events if isinstance(e, ToolResult)]
    assert ready and ready[0].name == "get_weather", f"no tool call; answer: {events[-1]}"
    assert calls and "oslo" in calls[0].lower()
    assert results[0].content == f"{calls[0]}: 17 degrees Celsius, light rain" and not results[0].is_error
    end = events[-1]
    assert isinstance(end, TurnEnd) and end.steps >= 2
    assert "17" in end.text, f"the answer should use the tool result: {end.text!r}"
    assert [m.role for m in history][:3] == ["user", "assistant", "tool"]


def test_cli_ask_on_local_model_leaves_no_server(local_data: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "assistant", "ask", "--no-tools", "-t", "0", "What is 2 + 3? Answer with a number."],
        capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "5" in proc.stdout
    assert "local model ready: started" in proc.stderr
    # servers of this test's data dir only: other processes on the machine may run their own
    ours = subprocess.run(["pgrep", "-f", f"llama-server.*{local_data}"], capture_output=True, text=True).stdout
    assert not ours.split(), "the llama-server started by `assistant ask` must be gone"


def test_ask_logprobs_on_local_model(local_data: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "assistant", "ask", "--no-tools", "--logprobs", "-t", "0", "Count from 1 to 5."],
        capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "token by token" in proc.stderr and "sent no token probabilities" not in proc.stderr
    assert "1" in proc.stdout and "5" in proc.stdout
