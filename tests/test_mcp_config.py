"""mcpServers JSON: the format other clients use, our additions, files and precedence, add/remove."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from assistant.errors import ConfigError
from assistant.mcp_config import (
    load_servers,
    parse_server,
    project_config_files,
    project_settings,
    read_servers_file,
    remove_server,
    save_server,
    user_config_file,
)


def write(path: Path, servers: dict[str, object], **extra: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"mcpServers": servers, **extra}))
    return path


def test_the_common_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GH_TOKEN", "ghp_123")
    stdio = parse_server("github", {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"],
                                    "env": {"GITHUB_TOKEN": "${GH_TOKEN}"}}, "f.json")  # fmt: skip
    assert (stdio.transport, stdio.command) == ("stdio", "npx")
    assert stdio.args == ("-y", "@modelcontextprotocol/server-github")
    assert stdio.env == {"GITHUB_TOKEN": "ghp_123"} and stdio.problem is None
    http = parse_server("remote", {"url": "https://x.example/mcp", "headers": {"Authorization": "Bearer ${T:-none}"}},
                        "f.json")  # fmt: skip
    assert http.transport == "http" and http.headers == {"Authorization": "Bearer none"}
    assert parse_server("old", {"type": "sse", "url": "https://x.example/sse"}, "f").transport == "sse"
    assert parse_server("typed", {"type": "http", "url": "https://x.example/mcp"}, "f").transport == "http"
    entry = {
        "command": "x",
        "timeout": 900,
        "startupTimeout": 5,
        "approval": {"*": "ask", "get": "allow"},
        "disabled": True,
    }
    ours = parse_server("s", entry, "f")
    assert (ours.timeout, ours.startup_timeout, ours.disabled) == (900.0, 5.0, True)
    assert ours.policy_for("get") == "allow" and ours.policy_for("other") == "ask"
    assert parse_server("s", {"command": "x"}, "f").policy_for("t") == "auto"


def test_missing_variable_marks_only_that_server() -> None:
    config = parse_server("s", {"command": "x", "env": {"K": "${SURELY_NOT_SET_ANYWHERE}"}}, "f")
    assert config.problem == "environment variable(s) not set: SURELY_NOT_SET_ANYWHERE"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({}, 'needs "command" (a stdio server) or "url"'),
        ({"command": "x", "url": "http://y"}, "not both"),
        ({"command": "x", "args": "-v"}, '"args" must be a list of strings'),
        ({"command": "x", "env": {"A": 1}}, '"env" must be an object of strings'),
        ({"command": "x", "timeout": 0}, '"timeout" must be a positive number'),
        ({"command": "x", "approval": "sometimes"}, "approval for '*' is 'sometimes'"),
        ({"command": "x", "type": "websocket"}, 'unknown "type"'),
        ("npx server", "must be an object"),
    ],
)
def test_bad_entries_name_file_and_server(entry: object, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_server("srv", entry, "/cfg/mcp.json")
    assert message in str(err.value) and "/cfg/mcp.json: server 'srv'" in str(err.value)


def test_broken_json_says_where(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text('{"mcpServers": {\n  "a": {"command": "x",}\n}}')
    with pytest.raises(ConfigError, match=r"is not valid JSON: .* at line 2, column"):
        read_servers_file(path)
    path.write_text('{"mcpServers": []}')
    with pytest.raises(ConfigError, match='"mcpServers" must be an object'):
        read_servers_file(path)
    assert read_servers_file(tmp_path / "missing.json") == {}


def test_files_builtins_and_precedence(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    write(user_config_file(), {"shared": {"command": "user-cmd"}, "mine": {"command": "a"},
                               "files": {"approval": {"write_file": "allow"}, "timeout": 30}})  # fmt: skip
    write(project_config_files(ws)[0], {"shared": {"command": "project-cmd"}, "run": {"disabled": True}})
    write(project_config_files(ws)[1], {"extra": {"url": "http://127.0.0.1:1/mcp"}})
    untrusted = {s.name: s for s in load_servers(ws, ("files", "run"))}
    assert list(untrusted) == ["files", "run", "shared", "mine"], "project files count only when trusted"
    assert untrusted["shared"].command == "user-cmd" and not untrusted["run"].disabled
    servers = {s.name: s for s in load_servers(ws, ("files", "run"), trusted=project_settings(ws))}
    assert list(servers) == ["files", "run", "shared", "mine", "extra"]
    files = servers["files"]
    assert files.builtin and files.command == sys.executable and files.args[-2:] == ("--root", str(ws))
    assert files.policy_for("write_file") == "allow" and files.timeout == 30.0
    assert "adjusted in" in files.source
    assert servers["run"].disabled and servers["run"].builtin and servers["run"].project
    assert servers["shared"].command == "project-cmd" and servers["shared"].project, "the project file wins"
    assert not servers["mine"].project and servers["extra"].project


def test_a_command_replaces_a_builtin(tmp_path: Path) -> None:
    write(user_config_file(), {"files": {"command": "my-files-server", "args": ["--fast"]}})
    files = load_servers(tmp_path, ("files",))[0]
    assert (files.command, files.args, files.builtin) == ("my-files-server", ("--fast",), False)


def test_builtin_args_are_appended(tmp_path: Path) -> None:
    write(user_config_file(), {"run": {"args": ["--time-limit", "120"]}})
    run = load_servers(tmp_path, ("run",))[0]
    assert run.args[-4:] == ("--root", str(tmp_path), "--time-limit", "120")


def test_save_and_remove_keep_the_rest_of_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "mcp.json", {"other": {"command": "keep-me"}}, globalShortcut="Ctrl+Space")
    save_server(path, "new", {"command": "npx", "args": ["srv"]})
    data = json.loads(path.read_text())
    assert data["globalShortcut"] == "Ctrl+Space" and set(data["mcpServers"]) == {"other", "new"}
    assert remove_server(path, "new") and not remove_server(path, "new")
    assert json.loads(path.read_text())["mcpServers"] == {"other": {"command": "keep-me"}}
    with pytest.raises(ConfigError):
        save_server(path, "bad name!", {"command": "x"})
