"""The prompt prefix across cold starts of our own llama-server (real server, real model).

First start: the prefix is evaluated and the slot saved. Next start: restored from disk, so the
server reports it as cached (``cache_n``) and evaluates little more than the new question. A corrupt
or foreign file: one line, ignored, the prefix evaluated afresh, the answer still comes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.api import Assistant
from assistant.context import ContextReport

pytestmark = pytest.mark.slow


async def _ask(question: str, lines: list[str]) -> ContextReport:
    async with Assistant(history=False, mcp=False, on_status=lines.append, temperature=0.0, max_tokens=4) as bot:
        assert bot.local_server is not None and bot.local_server.owned
        await bot.ask(question)
        report = bot.last_report
        assert report is not None
        return report


def _slot_files(data: Path) -> list[Path]:
    return sorted((data / "slots").glob("prefix-*.bin"))


async def test_prefix_is_saved_restored_and_bad_files_are_ignored(
    local_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for old in _slot_files(local_data):
        old.unlink()
    lines: list[str] = []

    first = await _ask("Say yes.", lines)
    assert first.cached_prompt_tokens == 0 and first.evaluated_prompt_tokens
    (saved,) = _slot_files(local_data)

    second = await _ask("Say no.", lines)
    assert second.cached_prompt_tokens is not None and second.evaluated_prompt_tokens is not None
    prefix = first.sources["system"].tokens  # the system prompt (no tools offered here)
    assert second.cached_prompt_tokens >= prefix - 8
    assert second.evaluated_prompt_tokens <= second.sources["input"].tokens + 32
    assert not [line for line in lines if "slot cache" in line]

    saved.write_bytes(b"not a llama.cpp state file" * 100)  # corrupt, with our sidecar still there
    third = await _ask("Say maybe.", lines)
    assert [line for line in lines if "could not be restored" in line]
    assert third.cached_prompt_tokens == 0 and (third.evaluated_prompt_tokens or 0) >= prefix
    (resaved,) = _slot_files(local_data)  # saved afresh after the request

    meta = resaved.with_name(resaved.name + ".json")
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "model_sha256": "0" * 64}))  # foreign
    fourth = await _ask("Say yes.", lines)
    assert [line for line in lines if "was not saved for this model" in line]
    assert fourth.cached_prompt_tokens == 0
