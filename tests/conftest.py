from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests import scripted_server
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


@pytest.fixture
async def close_endpoints() -> AsyncIterator[None]:
    """Closes what ``scripted_endpoint()`` opened during the test."""
    yield
    await scripted_server.close_endpoints()


REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def shared_local_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with the real 0.5B model assembled and verified once per session.

    No skip: if the model packages or llama-server are missing, the install is broken and the
    end-to-end tests must fail, not quietly pass.
    """
    from assistant.local.models import DEFAULT_MODEL, ensure_model_file

    path = tmp_path_factory.mktemp("shared-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASSISTANT_DATA_DIR", str(path))
        ensure_model_file(DEFAULT_MODEL)
    return path


@pytest.fixture
def local_data(shared_local_data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(shared_local_data))
    return shared_local_data
