"""MCP server configuration: the ``mcpServers`` JSON that other MCP clients use, plus our built-ins.

Files, later ones overriding earlier ones by server name:

1. ``$XDG_CONFIG_HOME/assistant/mcp.json`` (next to config.toml; ``ASSISTANT_CONFIG`` moves both)
2. ``<workspace>/.mcp.json`` (the project file other clients read too)
3. ``<workspace>/.assistant/mcp.json``

Format (the keys other clients use, plus a few optional ones of ours)::

    {"mcpServers": {
        "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"],
                   "env": {"GITHUB_TOKEN": "${GITHUB_TOKEN}"}},
        "remote": {"url": "https://example.com/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}},
        "files":  {"approval": {"write_file": "allow"}},
        "run":    {"args": ["--time-limit", "120"], "timeout": 600}
    }}

stdio servers: ``command``, ``args``, ``env``, ``cwd``. HTTP servers: ``url``, ``headers``
(``"type": "sse"`` for the older SSE transport; streamable HTTP otherwise). ``${VAR}`` and
``${VAR:-default}`` are expanded from the environment. Ours: ``timeout`` (seconds per call,
default 300), ``startupTimeout`` (seconds to connect, default 60), ``approval`` ("auto", "ask",
"allow", "deny", or an object by tool name with "*" for the rest), ``disabled``.

An entry named like a built-in server (``files``, ``run``) without a command or url adjusts the
built-in: its ``args`` are appended, the other keys replace the defaults. With a command or url it
replaces the built-in. This module never imports the MCP SDK.

Trust by folder: the project files (2 and 3) come with the folder, not from the user, so they are
inert until the user trusts that folder (``ProjectSettings``: what they would run and allow, and a
fingerprint of their exact content; any change needs trust again). Untrusted, they are not read
into the configuration at all: no server from them starts, and no built-in is adjusted by them.

The built-in servers start as ``python -I -m ...`` (or in-process from the installed package):
nothing in the workspace (an ``argparse.py``, a ``sitecustomize.py``) can shadow a module of theirs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from assistant.errors import ConfigError

DEFAULT_CALL_TIMEOUT = 300.0
DEFAULT_STARTUP_TIMEOUT = 60.0
POLICIES = ("auto", "ask", "allow", "deny")
BUILTIN_SERVERS = {"files": "assistant.toolservers.files_server", "run": "assistant.toolservers.run_server"}
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

Transport = Literal["stdio", "http", "sse"]


@dataclass(frozen=True)
class ServerConfig:
    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    type: Transport | None = None
    timeout: float = DEFAULT_CALL_TIMEOUT
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT
    approval: dict[str, str] = field(default_factory=dict)  # tool name or "*" -> policy
    disabled: bool = False
    builtin: bool = False
    source: str = ""  # the file it came from, or "built-in"
    project: bool = False  # from a project-level file (must be trusted before it is started)
    problem: str | None = None  # why it cannot be started as configured (e.g. a missing ${VAR})

    @property
    def transport(self) -> Transport:
        if self.url:
            return "sse" if self.type == "sse" else "http"
        return "stdio"

    def policy_for(self, tool: str) -> str:
        return self.approval.get(tool) or self.approval.get("*") or "auto"

    def describe(self) -> str:
        """The command line or URL, for listings and prompts."""
        if self.url:
            return self.url
        return " ".join([self.command or "?", *self.args])

    def fingerprint(self) -> str:
        """Identifies what would run, to remember that a project server is trusted."""
        what = json.dumps([self.command, list(self.args), self.env, self.cwd, self.url, self.headers], sort_keys=True)
        return hashlib.sha256(what.encode()).hexdigest()[:16]


def user_config_file() -> Path:
    from assistant.config import config_path

    return config_path().parent / "mcp.json"


def project_config_files(workspace: Path) -> list[Path]:
    return [workspace / ".mcp.json", workspace / ".assistant" / "mcp.json"]


def builtin_config(name: str, workspace: Path) -> ServerConfig:
    module = BUILTIN_SERVERS[name]
    # sys.executable -m: found in any install (editable or not), whatever PATH says. -I: no current
    # folder or script folder on sys.path, no PYTHON* variables, no user site: nothing in the
    # workspace is imported. (In-process, the hub imports the installed package's module instead.)
    return ServerConfig(name=name, command=sys.executable, args=("-I", "-m", module, "--root", str(workspace)),
                        builtin=True, source="built-in")  # fmt: skip


def read_servers_file(path: Path) -> dict[str, Any]:
    """The raw ``mcpServers`` object of one file ({} when the file does not exist)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}.") from None
    return parse_servers_text(text, path)


def parse_servers_text(text: str, path: Path) -> dict[str, Any]:
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from None
    if not isinstance(data, dict):
        raise ConfigError(f'{path}: the top level must be a JSON object with "mcpServers".')
    servers = data.get("mcpServers", {})
    if not isinstance(servers, dict):
        raise ConfigError(f'{path}: "mcpServers" must be an object mapping names to servers.')
    return servers


def _expand(value: str, missing: list[str]) -> str:
    def sub(m: re.Match[str]) -> str:
        got = os.environ.get(m.group(1))
        if got is None:
            if m.group(2) is None:
                missing.append(m.group(1))
                return ""
            return m.group(2)
        return got

    return _VAR.sub(sub, value)


def _str_map(entry: dict[str, Any], key: str, where: str) -> dict[str, str]:
    value = entry.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(f'{where}: "{key}" must be an object of strings.')
    return dict(value)


def _approval(entry: dict[str, Any], where: str) -> dict[str, str]:
    value = entry.get("approval", {})
    table = {"*": value} if isinstance(value, str) else value
    if not isinstance(table, dict):
        raise ConfigError(f'{where}: "approval" must be one of {", ".join(POLICIES)} or an object of them.')
    for tool, policy in table.items():
        if policy not in POLICIES:
            raise ConfigError(f"{where}: approval for '{tool}' is {policy!r}; use one of {', '.join(POLICIES)}.")
    return dict(table)


def _number(entry: dict[str, Any], key: str, default: float, where: str) -> float:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f'{where}: "{key}" must be a positive number of seconds.')
    return float(value)


def parse_server(name: str, entry: Any, source: Path | str, base: ServerConfig | None = None) -> ServerConfig:
    """One ``mcpServers`` entry; ``base`` is the built-in it adjusts, if any."""
    where = f"{source}: server '{name}'"
    if not _NAME.match(name):
        raise ConfigError(f"{where}: names may use letters, digits, '_', '-' and '.' (at most 64).")
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be an object.")
    args = entry.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ConfigError(f'{where}: "args" must be a list of strings.')
    kind = entry.get("type")
    if kind not in (None, "stdio", "http", "streamable-http", "streamableHttp", "sse"):
        raise ConfigError(f'{where}: unknown "type" {kind!r}; use stdio, http or sse.')
    command, url = entry.get("command"), entry.get("url")
    for key, value in (("command", command), ("url", url), ("cwd", entry.get("cwd"))):
        if value is not None and not isinstance(value, str):
            raise ConfigError(f'{where}: "{key}" must be a string.')
    if command and url:
        raise ConfigError(f'{where}: give either "command" (stdio) or "url" (HTTP), not both.')
    missing: list[str] = []
    adjusting = base is not None and not command and not url
    start = base if adjusting and base is not None else ServerConfig(name=name)
    if not adjusting and not command and not url:
        raise ConfigError(f'{where}: needs "command" (a stdio server) or "url" (an HTTP server).')
    config = replace(
        start,
        command=_expand(command, missing) if command else start.command,
        args=start.args + tuple(_expand(a, missing) for a in args),
        env={**start.env, **{k: _expand(v, missing) for k, v in _str_map(entry, "env", where).items()}},
        cwd=_expand(entry["cwd"], missing) if entry.get("cwd") else start.cwd,
        url=_expand(url, missing) if url else start.url,
        headers={**start.headers, **{k: _expand(v, missing) for k, v in _str_map(entry, "headers", where).items()}},
        type="sse" if kind == "sse" else ("stdio" if kind == "stdio" else ("http" if kind else start.type)),
        timeout=_number(entry, "timeout", start.timeout, where),
        startup_timeout=_number(entry, "startupTimeout", start.startup_timeout, where),
        approval={**start.approval, **_approval(entry, where)},
        disabled=bool(entry.get("disabled", start.disabled)),
        builtin=adjusting and start.builtin,
        source=str(source) if not adjusting else f"{start.source}, adjusted in {source}",
    )
    if missing:
        config = replace(config, problem=f"environment variable(s) not set: {', '.join(sorted(set(missing)))}")
    return config


def load_servers(workspace: Path, builtin: tuple[str, ...] | list[str] = (), files: list[Path] | None = None, *,
                 trusted: ProjectSettings | None = None) -> list[ServerConfig]:  # fmt: skip
    """Every configured server (disabled ones included, marked), built-ins first.

    The project files count only as ``trusted`` (the ``ProjectSettings`` the user trusted, parsed
    from the very text that was shown to them); every server they add or adjust is marked ``project``.
    """
    servers: dict[str, ServerConfig] = {name: builtin_config(name, workspace) for name in builtin}
    sources: list[tuple[Path, dict[str, Any], bool]] = []
    if files is not None:
        sources = [(path, read_servers_file(path), False) for path in files]
    else:
        user = user_config_file()
        sources = [(user, read_servers_file(user), False)]
        if trusted is not None:
            sources += [(path, parse_servers_text(text, path), True) for path, text in trusted.files]
    for path, entries, is_project in sources:
        for name, entry in entries.items():
            config = parse_server(name, entry, path, servers.get(name))
            if is_project:
                config = replace(config, project=True)
            servers[name] = config
    return list(servers.values())


@dataclass(frozen=True)
class ProjectSettings:
    """What the project files of one folder would add or change, before the user trusts that folder."""

    workspace: Path
    files: tuple[tuple[Path, str], ...]  # (path, exact text) of each project file that exists

    @property
    def present(self) -> bool:
        return bool(self.files)

    def fingerprint(self) -> str:
        """Of the exact content of every project file: any change needs trust again."""
        what = json.dumps([[str(p), text] for p, text in self.files])
        return hashlib.sha256(what.encode()).hexdigest()[:32]

    def describe(self) -> list[str]:
        """Every server it would start and every built-in it would change, in full (quoted, one per line)."""
        lines: list[str] = []
        for path, text in self.files:
            lines.append(f"from {path}:")
            for name, entry in parse_servers_text(text, path).items():
                lines.extend("    " + line for line in _describe_entry(name, entry))
        return lines


def _describe_entry(name: str, entry: Any) -> list[str]:
    if not isinstance(entry, dict):
        return [f"{name}: (not an object; ignored)"]
    builtin = name in BUILTIN_SERVERS and not entry.get("command") and not entry.get("url")
    head = f"changes the built-in server '{name}'" if builtin else f"server '{name}'"
    lines = [head + (" (disabled)" if entry.get("disabled") else "") + ":"]
    if entry.get("url"):
        lines.append(f"  connects to: {entry['url']}")
    if entry.get("command") or entry.get("args"):
        words = [str(entry.get("command") or "<built-in command>"), *map(str, entry.get("args") or [])]
        shown = shlex.join(words[1:] if builtin else words)
        lines.append(f"  {'adds arguments' if builtin else 'runs'}: {shown}")
    for key in ("env", "headers"):
        for k, v in (entry.get(key) or {}).items() if isinstance(entry.get(key), dict) else []:
            lines.append(f"  {key[:-1] if key == 'headers' else key}: {k}={v}")
    if entry.get("cwd"):
        lines.append(f"  in folder: {entry['cwd']}")
    if "approval" in entry:
        lines.append(f"  approval: {json.dumps(entry['approval'], ensure_ascii=False)}")
    other = sorted(set(entry) - {"url", "command", "args", "env", "headers", "cwd", "approval", "disabled"})
    if other:
        lines.append(f"  also: {json.dumps({k: entry[k] for k in other}, ensure_ascii=False)}")
    return lines


def project_settings(workspace: Path) -> ProjectSettings:
    """The project files of ``workspace`` (validated: a broken one is a ConfigError, as before)."""
    found: list[tuple[Path, str]] = []
    for path in project_config_files(workspace):
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Cannot read {path}: {exc}.") from None
        servers = parse_servers_text(text, path)
        for name, entry in servers.items():  # validate now: a broken file is reported, trusted or not
            parse_server(name, entry, path, builtin_config(name, workspace) if name in BUILTIN_SERVERS else None)
        if servers:
            found.append((path, text))
    return ProjectSettings(workspace, tuple(found))


def save_server(path: Path, name: str, entry: dict[str, Any]) -> None:
    """Add or replace one server in a file, keeping everything else in it."""
    parse_server(name, entry, path, builtin_config(name, Path.cwd()) if name in BUILTIN_SERVERS else None)
    data = _read_whole(path)
    data.setdefault("mcpServers", {})[name] = entry
    _write_whole(path, data)


def remove_server(path: Path, name: str) -> bool:
    data = _read_whole(path)
    servers = data.get("mcpServers", {})
    if name not in servers:
        return False
    del servers[name]
    _write_whole(path, data)
    return True


def _read_whole(path: Path) -> dict[str, Any]:
    read_servers_file(path)  # validates, with a readable error
    if not path.exists() or not path.read_text(encoding="utf-8").strip():
        return {}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _write_whole(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
