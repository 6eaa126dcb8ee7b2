"""Approval before side effects: who may run which tool, asked in the terminal, remembered per workspace.

Policy per tool, from the server's ``approval`` setting in mcp.json:

- ``allow``: runs without asking; ``deny``: never runs (the hub does not even offer it);
- ``ask``: asks the user (yes / no / always for this tool in this workspace);
- ``auto`` (the default): tools the server marks read-only (``readOnlyHint``) run freely, the
  others ask. Annotations are the server's own claim; set ``ask`` for a server you do not trust
  to label its tools.

``--yes`` answers yes to every question. With nobody to ask (a script, piped input), a call
that needs approval is denied. A denied call goes back to the model as a ``Denied: ...`` tool
result, and the turn goes on. "Always" answers live in ``<data dir>/approvals.json``, keyed by
the workspace folder.

Trust by folder: the project files of a workspace (``.mcp.json``, ``.assistant/mcp.json``) can
start servers, change the built-ins and their approvals; they count only once the user trusts
that folder, after being shown, in full, everything they would run and allow. "Always" remembers
the fingerprint of their exact content; a change asks again. ``--yes`` answers tool questions, it
never trusts a folder. Every question shows untrusted text with its control characters visible
(``termsafe.visible``), so an escape sequence cannot make it read differently from what will run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from assistant.termsafe import visible

Answer = Literal["yes", "no", "always"]


@dataclass(frozen=True)
class ApprovalRequest:
    kind: Literal["tool", "server", "folder", "instructions"]
    server: str
    tool: str = ""  # the tool's own name on its server ("" for a server)
    shown_name: str = ""  # the name the model used
    arguments: dict[str, Any] = field(default_factory=dict)
    preview: str | None = None  # e.g. the diff a dry run produced
    detail: str = ""  # for a server or a folder: what would run and be allowed
    workspace: str = ""


AskFn = Callable[[ApprovalRequest], Awaitable[Answer]]


def approvals_file() -> Path:
    from assistant.paths import data_dir

    return data_dir() / "approvals.json"


class ApprovalStore:
    """'Always' answers, per workspace: tools (server/tool) and trusted project servers (name -> fingerprint)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or approvals_file()

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return {"version": 1, "workspaces": {}}
        return (
            data
            if isinstance(data, dict) and isinstance(data.get("workspaces"), dict)
            else {"version": 1, "workspaces": {}}
        )

    def _entry(self, data: dict[str, Any], workspace: str) -> dict[str, Any]:
        entry = data["workspaces"].setdefault(workspace, {})
        entry.setdefault("tools", [])
        entry.setdefault("servers", {})
        return entry

    def _save(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.path)

    def tool_allowed(self, workspace: str, server: str, tool: str) -> bool:
        return f"{server}/{tool}" in self._entry(self._load(), workspace)["tools"]

    def allow_tool(self, workspace: str, server: str, tool: str) -> None:
        data = self._load()
        tools = self._entry(data, workspace)["tools"]
        if f"{server}/{tool}" not in tools:
            tools.append(f"{server}/{tool}")
            self._save(data)

    def server_trusted(self, workspace: str, name: str, fingerprint: str) -> bool:
        return bool(self._entry(self._load(), workspace)["servers"].get(name) == fingerprint)

    def trust_server(self, workspace: str, name: str, fingerprint: str) -> None:
        data = self._load()
        self._entry(data, workspace)["servers"][name] = fingerprint
        self._save(data)

    def folder_trusted(self, workspace: str, fingerprint: str) -> bool:
        return self.trusted(workspace, "project", fingerprint)

    def trust_folder(self, workspace: str, fingerprint: str) -> None:
        self.trust(workspace, "project", fingerprint)

    def instructions_trusted(self, workspace: str, fingerprint: str) -> bool:
        return self.trusted(workspace, "instructions", fingerprint)

    def trust_instructions(self, workspace: str, fingerprint: str) -> None:
        self.trust(workspace, "instructions", fingerprint)

    def trusted(self, workspace: str, key: str, fingerprint: str) -> bool:
        """Was this exact content (its fingerprint) trusted for this workspace?"""
        return bool(self._entry(self._load(), workspace).get(key) == fingerprint)

    def trust(self, workspace: str, key: str, fingerprint: str) -> None:
        data = self._load()
        self._entry(data, workspace)[key] = fingerprint
        self._save(data)


def denied_message(name: str, why: str) -> str:
    return f"Denied: {why} The call to {name} did not run. Do not retry it; continue without it or ask the user."


class Approver:
    """The ToolRegistry hook: ``await approver(tool, arguments)`` is None to run, or the denial text."""

    def __init__(self, workspace: Path, *, ask: AskFn | None = None, yes: bool = False,
                 store: ApprovalStore | None = None) -> None:  # fmt: skip
        self.workspace = str(workspace)
        self.ask = ask
        self.yes = yes
        self.store = store or ApprovalStore()
        self._lock = asyncio.Lock()  # one question at a time
        self.session_allowed: set[tuple[str, str]] = set()

    async def __call__(self, tool: Any, arguments: dict[str, Any]) -> str | None:
        try:
            return await self._decide(tool, arguments)
        except (OSError, ValueError) as exc:  # e.g. the approvals file cannot be written
            return denied_message(getattr(tool, "name", "?"), f"the approval check failed ({exc}).")

    async def _decide(self, tool: Any, arguments: dict[str, Any]) -> str | None:
        policy_for = getattr(tool, "policy_for", None)
        policy = policy_for(arguments) if policy_for is not None else getattr(tool, "policy", "allow")
        name = getattr(tool, "name", "?")
        server = getattr(tool, "server_name", "")
        remote = getattr(tool, "remote_name", name)
        if policy == "allow":
            return None
        if policy == "deny":
            return denied_message(name, f"the approval policy for server '{server}' blocks {remote}.")
        if self.yes or (server, remote) in self.session_allowed:
            return None
        if self.store.tool_allowed(self.workspace, server, remote):
            return None
        if self.ask is None:
            return denied_message(name, "it needs the user's approval and nobody could be asked (non-interactive; "
                                        "the user can rerun with --yes or allow the tool in mcp.json).")  # fmt: skip
        preview = None
        preview_fn = getattr(tool, "preview", None)
        if preview_fn is not None:
            checked = await preview_fn(arguments)
            if checked is not None:
                text, is_error = checked
                if is_error:  # the real call would fail the same way: no need to bother the user
                    return f"Error (found by a dry run before asking the user; nothing changed): {text}"
                preview = text
        request = ApprovalRequest("tool", server, remote, name, dict(arguments), preview, workspace=self.workspace)
        async with self._lock:
            answer = await self.ask(request)
        if answer == "always":
            self.store.allow_tool(self.workspace, server, remote)
        if answer in ("yes", "always"):
            return None
        return denied_message(name, "the user said no.")

    async def trust_folder(self, detail: str, fingerprint: str) -> bool:
        """May the project files of this workspace count? Asked with everything they would do; never
        implied by ``--yes``; 'always' is remembered for this exact content."""
        return await self._ask_trust("folder", detail, fingerprint)

    async def trust_instructions(self, detail: str, fingerprint: str) -> bool:
        """May the project's instruction files (AGENTS.md ...) go into the system prompt? The same rule
        as the project settings: asked with their full text, never implied by ``--yes``."""
        return await self._ask_trust("instructions", detail, fingerprint)

    async def _ask_trust(self, kind: Literal["folder", "instructions"], detail: str, fingerprint: str) -> bool:
        """Trusted already (this exact content), else asked; 'always' is remembered for this content."""
        key = "project" if kind == "folder" else "instructions"
        if self.store.trusted(self.workspace, key, fingerprint):
            return True
        if self.ask is None:
            return False
        async with self._lock:
            answer = await self.ask(ApprovalRequest(kind, "", detail=detail, workspace=self.workspace))
        if answer == "always":
            self.store.trust(self.workspace, key, fingerprint)
        return answer in ("yes", "always")


FULL_ARGUMENTS = 20_000  # characters of one argument shown in a question before it is cut (said so)
PREVIEW_LINES = 200


async def trusted_project_settings(approver: Approver) -> tuple[Any, str | None]:
    """The workspace's project settings if the user trusts them (asking if possible), else None;
    and a note for the user when there were some and they are ignored."""
    from assistant.mcp_config import project_settings

    settings = project_settings(Path(approver.workspace))
    if not settings.present:
        return None, None
    if await approver.trust_folder("\n".join(settings.describe()), settings.fingerprint()):
        return settings, None
    files = ", ".join(str(p) for p, _ in settings.files)
    return None, (f"project settings in {files} ignored: this folder is not trusted (its servers do not start and "
                  "it changes no approval; `assistant tools trust` shows them and trusts the folder)")  # fmt: skip


def _describe_args(arguments: dict[str, Any], limit: int = FULL_ARGUMENTS, previewed: bool = False) -> list[str]:
    lines = []
    for key, value in arguments.items():
        if previewed and isinstance(value, str) and "\n" in value:
            lines.append(f"    {visible(key, one_line=True)}: ({len(value.splitlines())} lines, shown in the preview)")
            continue
        if isinstance(value, str) and "\n" in value and len(value) <= limit:
            lines.append(f"    {visible(key, one_line=True)}: ({len(value.splitlines())} lines)")
            lines.extend("      | " + visible(line, one_line=True) for line in value.split("\n"))
            continue
        if isinstance(value, str):
            shown = value if len(value) <= limit else value[:limit]
            shown = json.dumps(shown, ensure_ascii=False)
            if len(value) > limit:
                shown += f" [CUT: {len(value) - limit} more characters not shown; answer no if unsure]"
        else:
            shown = json.dumps(value, ensure_ascii=False)
        lines.append(f"    {visible(key, one_line=True)}: {visible(shown, one_line=True)}")
    return lines


def format_request(request: ApprovalRequest) -> str:
    """The question, with every untrusted part's control characters visible and nothing silently cut."""
    if request.kind == "folder":
        return (f"The project files in {visible(request.workspace, one_line=True)} want to change what runs and what "
                f"is allowed here:\n{visible(request.detail)}\nTrust this folder's settings? [y]es (this time), "
                "[n]o (ignore them), [a]lways (until they change): ")  # fmt: skip
    if request.kind == "instructions":
        return (f"The project in {visible(request.workspace, one_line=True)} has instructions for the model:\n"
                f"{visible(request.detail)}\nAdd them to the system prompt? [y]es (this time), [n]o (leave them "
                "out), [a]lways (until they change): ")  # fmt: skip
    if request.kind == "server":
        return (f"The project file in {visible(request.workspace, one_line=True)} wants to start the MCP server "
                f"'{visible(request.server, one_line=True)}':\n    {visible(request.detail)}\n"
                "Start it? [y]es, [n]o, [a]lways for this workspace: ")  # fmt: skip
    server, tool = visible(request.server, one_line=True), visible(request.tool, one_line=True)
    lines = [f"Allow {server} to run {tool}?", *_describe_args(request.arguments, previewed=bool(request.preview))]
    if request.preview:
        preview = request.preview.rstrip("\n").split("\n")
        lines += ["  preview (dry run):", *("    " + visible(line, one_line=True) for line in preview[:PREVIEW_LINES])]
        if len(preview) > PREVIEW_LINES:
            lines.append(f"    [CUT: {len(preview) - PREVIEW_LINES} more lines of preview not shown]")
    lines.append(f"[y]es, [n]o, [a]lways allow {tool} in {visible(request.workspace, one_line=True)}: ")
    return "\n".join(lines)


def parse_answer(text: str) -> Answer | None:
    word = text.strip().lower()
    if word in ("y", "yes"):
        return "yes"
    if word in ("a", "always"):
        return "always"
    if word in ("n", "no", ""):
        return "no"
    return None


def terminal_ask(out: IO[str] | None = None, read: Callable[[], str] = input) -> AskFn:
    """Ask on the terminal, in the event loop's thread, while the turn waits.

    Reading in the loop's own thread (not ``asyncio.to_thread``) keeps one reader on stdin: a
    reader thread left behind by Ctrl-C would steal the next chat line. Ctrl-C at the question
    cancels the call and the turn, as Ctrl-C does anywhere else in a turn; Ctrl-D counts as "no".
    """

    async def ask(request: ApprovalRequest) -> Answer:
        stream = out or sys.stderr
        with _ctrl_c_raises() as interrupted:
            try:
                return _question(stream, request, read)
            except KeyboardInterrupt:
                interrupted.append(True)
                stream.write("\n")
        raise asyncio.CancelledError  # Ctrl-C: the call is cancelled, and with it the turn

    return ask


def _question(stream: IO[str], request: ApprovalRequest, read: Callable[[], str]) -> Answer:
    stream.write("\n" + format_request(request))
    stream.flush()
    for _ in range(3):
        try:
            answer = parse_answer(read())
        except EOFError:
            stream.write("\n[no]\n")
            return "no"
        if answer is not None:
            return answer
        stream.write("Please answer y, n or a: ")
        stream.flush()
    return "no"


@contextlib.contextmanager
def _ctrl_c_raises() -> Iterator[list[bool]]:
    """While asking, Ctrl-C raises KeyboardInterrupt in input() (the installed handler would only
    note it for later). After an interrupt the installed handler is called too, so asyncio.Runner
    counts it and reports KeyboardInterrupt for the cancelled turn."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if main else None
    if main:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    interrupted: list[bool] = []
    try:
        yield interrupted
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
        if any(interrupted):
            if not callable(previous) or previous is signal.default_int_handler:
                raise KeyboardInterrupt
            with contextlib.suppress(KeyboardInterrupt):
                previous(signal.SIGINT, None)
