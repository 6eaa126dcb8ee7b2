from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scripted_server import ScriptedServer


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's config or talks to a real endpoint by accident."""
    cfg = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(cfg))
    monkeypatch.delenv("ASSISTANT_CONFIG", raising=False)
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "ASSISTANT_BASE_URL", "ASSISTANT_MODEL", "ASSISTANT_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    if "ASSISTANT_DATA_DIR" not in os.environ:
        monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path_factory.mktemp("data")))


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer().start()
    try:
        yield server
    finally:
        server.stop()
    assert server.unexpected == 0, f"{server.unexpected} request(s) had no scripted reply"
    assert not server.replies, f"{len(server.replies)} scripted repl(ies) were never requested"


REPO = Path(__file__).resolve().parent.parent
