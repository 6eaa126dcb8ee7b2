"""A small model's answers are greedy unless the settings give a temperature (assistant/profile.py)."""

from __future__ import annotations

import pytest

from assistant.api import Assistant
from assistant.profile import Capabilities, build_profile, llama_server_capabilities
from tests.scripted_server import ScriptedServer, text


def test_the_profile_sets_a_small_models_answer_temperature() -> None:
    llama = llama_server_capabilities("http://x/v1", "m", 4096)
    small = build_profile("qwen2.5-coder-0.5b", llama, local=True)
    assert small.temperature == 0.0 and any(line.startswith("answers: temperature 0") for line in small.lines())
    hosted = build_profile("gpt-4o-mini", Capabilities("http://y/v1", models=("gpt-4o-mini",)))
    assert hosted.temperature is None and not any(line.startswith("answers:") for line in hosted.lines())


@pytest.mark.parametrize(("model", "given", "sent"), [
    ("qwen2.5-coder-0.5b", None, 0.0),  # sampled at the server's default 0.8 before
    ("qwen2.5-coder-0.5b", 0.7, 0.7),  # the settings win
    ("gpt-4o-mini", None, None),  # the server's default
])  # fmt: skip
async def test_the_answer_request_carries_that_temperature(
    scripted: ScriptedServer, model: str, given: float | None, sent: float | None
) -> None:
    scripted.script(text("Hello!"))
    overrides = {"temperature": given} if given is not None else {}
    async with Assistant(base_url=scripted.base_url, model=model, history=False, mcp=False,
                         text_tool_calls=False, **overrides) as bot:  # fmt: skip
        assert await bot.ask("hi") == "Hello!"
    assert scripted.requests[-1].get("temperature") == sent
