"""The chat's status line: tokens of this turn and the running total (each request counted once)."""

from __future__ import annotations

import io
from types import SimpleNamespace

from rich.console import Console

from assistant.cli.stream_render import RichRenderer
from assistant.cli.tui import ChatUI
from assistant.events import StepStart, TextDelta, TurnEnd, Usage


def _turn(renderer: RichRenderer, *usages: tuple[int, int]) -> None:
    renderer.start_turn()
    for step, (prompt, completion) in enumerate(usages, 1):
        renderer.handle(StepStart(step, 2))
        renderer.handle(TextDelta("ok"))
        renderer.handle(Usage(prompt, completion, prompt + completion))
    renderer.handle(TurnEnd("ok", len(usages), "stop"))


def _ui() -> ChatUI:
    endpoint = SimpleNamespace(config=SimpleNamespace(logprobs=0))
    bot = SimpleNamespace(endpoint=endpoint, local_server=None, base_url="http://x/v1", model="m")
    return ChatUI(bot, Console(file=io.StringIO(), force_terminal=False))  # type: ignore[arg-type]


def test_one_request_is_counted_once_in_the_total() -> None:
    ui = _ui()
    _turn(ui.renderer, (1745, 12))
    bar = ui.toolbar()
    assert "turn 1,745+12 tok" in bar
    assert "total 1,745+12" in bar  # was 3,490+24: the finished turn counted twice


def test_total_sums_turns_and_requests_while_the_turn_shows_its_own() -> None:
    ui = _ui()
    _turn(ui.renderer, (100, 5), (130, 7))  # one turn, two requests (a tool round)
    _turn(ui.renderer, (200, 3))
    bar = ui.toolbar()
    assert "turn 200+3 tok" in bar
    assert "total 430+15" in bar


def test_total_during_a_turn_includes_requests_already_answered() -> None:
    ui = _ui()
    _turn(ui.renderer, (100, 5))
    ui.renderer.start_turn()
    ui.renderer.handle(StepStart(1, 3))
    ui.renderer.handle(Usage(150, 2, 152))
    assert "total 250+7" in ui.toolbar()
