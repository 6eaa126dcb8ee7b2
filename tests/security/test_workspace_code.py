"""Finding 1: nothing in the workspace runs as code when the assistant or its servers start."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from assistant.mcp_config import BUILTIN_SERVERS, builtin_config, load_servers
from assistant.toolhub import ToolHub
from tests.security.conftest import run_cli

# Module names the built-in servers (or Python's start-up) import; a file of that name in the
# workspace would run on start if the workspace were on sys.path.
SHADOWS = ["argparse", "json", "asyncio", "sitecustomize", "usercustomize", "pydantic", "anyio", "mcp", "typing",
           "difflib", "fnmatch", "encodings"]  # fmt: skip


def plant(ws: Path, marker: Path) -> None:
    for name in SHADOWS:
        code = f"open({str(marker)!r}, 'a').write({name!r} + '\\n')\n"
        if name == "encodings":
            (ws / name).mkdir()
            (ws / name / "__init__.py").write_text(code)
        else:
            (ws / f"{name}.py").write_text(code)


@pytest.mark.parametrize("name", sorted(BUILTIN_SERVERS))
def test_builtin_start_is_isolated_from_the_workspace(name: str, ws: Path) -> None:
    config = builtin_config(name, ws)
    assert config.args[:2] == ("-I", "-m"), "isolated mode: no cwd/script dir on sys.path, no PYTHON* variables"


@pytest.mark.parametrize("where", ["own-process", "in-process"])
async def test_planted_modules_do_not_run_when_the_servers_start(where: str, ws: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    marker = tmp_path / "ran.txt"
    plant(ws, marker)
    monkeypatch.chdir(ws)
    monkeypatch.setenv("PYTHONPATH", str(ws))  # even an inherited PYTHONPATH pointing at it
    configs = load_servers(ws, tuple(BUILTIN_SERVERS))
    if where == "own-process":  # an environment of its own makes the hub start it as a process
        configs = [replace(c, env={"PYTHONPATH": str(ws)}) for c in configs]
    hub = ToolHub(configs)
    try:
        await hub.start()
        assert {s.name: s.state for s in hub.servers.values()} == {"files": "connected", "run": "connected"}
        text, is_error = await hub.servers["files"].call("read_file", {"path": "notes.txt"})
        assert (text, is_error) == ("alpha", False)
    finally:
        await hub.aclose()
    assert not marker.exists(), f"workspace code ran: {marker.read_text()!r}"


def test_planted_modules_do_not_run_on_tools_list(ws: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    plant(ws, marker)
    listed = run_cli("tools", "list", cwd=ws)
    assert listed.returncode == 0, listed.stderr
    assert b"built-in]  connected" in listed.stdout
    assert not marker.exists(), f"workspace code ran: {marker.read_text()!r}"


def test_the_cli_itself_imports_nothing_from_the_workspace(ws: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    plant(ws, marker)
    for name in ("openai", "httpx", "rich", "typer", "platformdirs"):
        (ws / f"{name}.py").write_text(f"open({str(marker)!r}, 'a').write({name!r})\n")
    done = run_cli("--help", cwd=ws)
    assert done.returncode == 0 and not marker.exists()
