"""Remembered tool lists: what each MCP server offered last time, per server configuration.

With a remembered list, the first request goes out at once with those schemas while the
server starts (or, for the built-in in-process servers, before it is even imported); a call
waits for its server, and a server whose live list differs updates the file and the tools of
the next request. The key is a hash of what would run (command, arguments, environment,
working folder, URL, headers, transport) plus, for the built-in servers, the version of their
code; the workspace path in a built-in's arguments is left out, so a new folder does not make
the list unknown. Only the hash is a file name; secrets in env or headers are never written.

Remembered tools are what the server itself sent earlier (untrusted, like any tool list); they
are offered only for servers that are started anyway (trusted, not disabled).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.mcp_config import ServerConfig

FORMAT = 1


@dataclass(frozen=True)
class ToolAnnotationsLite:
    read_only_hint: bool | None = None


@dataclass(frozen=True)
class RememberedTool:
    """The parts of an MCP ``Tool`` the hub uses, without importing the MCP SDK."""

    name: str
    title: str | None
    description: str | None
    input_schema: dict[str, Any]
    annotations: ToolAnnotationsLite | None

    def as_json(self) -> dict[str, Any]:
        read_only = self.annotations.read_only_hint if self.annotations else None
        return {"name": self.name, "title": self.title, "description": self.description,
                "input_schema": self.input_schema, "read_only": read_only}  # fmt: skip


def remembered(tool: Any) -> RememberedTool:
    """An MCP ``Tool`` (or a remembered one) as a ``RememberedTool``."""
    ann = getattr(tool, "annotations", None)
    read_only = getattr(ann, "read_only_hint", None) if ann is not None else None
    return RememberedTool(tool.name, getattr(tool, "title", None), tool.description,
                          dict(tool.input_schema or {}), ToolAnnotationsLite(read_only) if ann else None)  # fmt: skip


def _from_json(raw: dict[str, Any]) -> RememberedTool:
    ro = raw.get("read_only")
    name, schema = raw["name"], raw.get("input_schema") or {}
    if not isinstance(name, str) or not isinstance(schema, dict):
        raise ValueError("bad tool entry")
    return RememberedTool(name, raw.get("title"), raw.get("description"), schema,
                          ToolAnnotationsLite(ro) if ro is not None else None)  # fmt: skip


def _code_stamp() -> str:
    """Size and mtime of the built-in servers' sources: their tool lists change with their code."""
    from assistant import __version__

    parts = [__version__]
    import importlib.util

    for mod in ("assistant.toolservers.files_server", "assistant.toolservers.run_server"):
        with contextlib.suppress(Exception):
            spec = importlib.util.find_spec(mod)
            origin = spec.origin if spec else None
            if origin:
                st = os.stat(origin)
                parts.append(f"{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


def config_key(config: ServerConfig, workspace: Path | None = None, in_process: bool = False) -> str:
    args = list(config.args)
    if config.builtin and workspace is not None:
        args = ["<workspace>" if a == str(workspace) else a for a in args]
    what = [config.name if config.builtin else "", config.command, args, config.env, config.cwd, config.url,
            config.headers, config.transport, in_process, _code_stamp() if config.builtin else ""]  # fmt: skip
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:24]


class ToolMemory:
    """Tool lists on disk, one small JSON file per server configuration."""

    def __init__(self, directory: Path | None = None) -> None:
        if directory is None:
            from assistant.paths import data_dir

            directory = data_dir() / "mcp-tools"
        self.directory = directory

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def load(self, key: str) -> list[RememberedTool] | None:
        """The remembered list, or None (never seen, unreadable or from another format: start normally)."""
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                return None
            return [_from_json(t) for t in data["tools"]]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def save(self, key: str, tools: list[Any]) -> None:
        """Remember a list, schemas already checked (best effort: a read-only data folder only costs
        the next start)."""
        body = {"format": FORMAT, "tools": [remembered(t).as_json() for t in tools]}
        with contextlib.suppress(OSError, TypeError, ValueError):
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = self._path(key).with_suffix(f".tmp-{os.getpid()}")
            tmp.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, self._path(key))


def same_tools(a: list[Any], b: list[Any]) -> bool:
    """Do two lists offer the same tools (order aside)?"""

    def norm(tools: list[Any]) -> list[str]:
        return sorted(json.dumps(remembered(t).as_json(), sort_keys=True) for t in tools)

    return norm(a) == norm(b)
