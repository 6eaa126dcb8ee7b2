"""ToolHub: MCP servers (stdio, streamable HTTP, SSE) as tools of the agent loop.

- Every configured server is connected at start, concurrently; the hub keeps the ones that
  connected and records for the others why they failed (command not found, crashed at start,
  no answer within ``startupTimeout``, HTTP errors, with the tail of the server's stderr).
- Each server's connection lives in one task of its own (the SDK's anyio scopes must be entered
  and left by the same task, and the chat enters and leaves the assistant in different
  ``Runner.run`` calls); calls come from any task.
- Their tools become ``McpTool`` objects, which implement the same ``Tool`` protocol as Python
  functions, so the registry validates arguments against each tool's input schema before any
  call. Names that collide (between servers, or with tools already registered) are prefixed
  ``<server>__``; names outside OpenAI's ``[A-Za-z0-9_-]{1,64}`` are cleaned up.
- A call's result becomes text for the model as assistant/mcp_results.py renders it.
- Calls have a per-server timeout (``timeout`` in mcp.json, default 300 s); progress
  notifications go to ``on_progress``; cancelling the calling task (Ctrl-C) cancels the call
  on the server too (the SDK sends ``notifications/cancelled``).
- A server that dies (mid-call or between calls) is reconnected once, with a status line; if it
  dies again it stays exited and its tools answer with an error from then on.
- Beyond tools (assistant/mcp_features.py): each server's prompts and resources are listed at
  connect, its ``instructions`` kept; ``notifications/tools/list_changed`` (or, on 2026-07-28
  sessions, the ``subscriptions/listen`` event) lists its tools again and updates the registry.
- ``aclose()`` closes every server: stdin closed, then SIGTERM and SIGKILL to the process group
  (the SDK's shutdown), so no child process outlives the hub.

The MCP SDK is imported only when a server is actually connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from assistant.approval import ApprovalStore, Approver, AskFn, trusted_project_settings
from assistant.errors import ToolError
from assistant.mcp_config import BUILTIN_SERVERS, ServerConfig, load_servers
from assistant.mcp_results import render_result

if TYPE_CHECKING:
    from assistant.tool_memory import ToolMemory
    from assistant.tools import ToolRegistry

_BAD_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
CLOSE_TIMEOUT = 15.0
CLOSE_GRACE = 0.5  # seconds a stdio server gets to exit by itself when the hub closes


@dataclass(frozen=True)
class ToolProgress:
    """A progress notification from a server during a call."""

    server: str
    tool: str
    progress: float
    total: float | None
    message: str | None

    def describe(self) -> str:
        amount = f"{self.progress:g}/{self.total:g}" if self.total else f"{self.progress:g}"
        return f"{self.tool} ({self.server}): {amount}" + (f" {self.message}" if self.message else "")


ProgressFn = Callable[[ToolProgress], None]


class _StderrTail:
    """A server's stderr through a pipe of ours, drained by a thread; keeps the last few KB.

    A thread, not the event loop: between chat turns the loop is not running, and a server
    writing to a full pipe would block.
    """

    def __init__(self, keep: int = 4000) -> None:
        read_fd, write_fd = os.pipe()
        self.writer: TextIO = os.fdopen(write_fd, "w")
        self._read_fd = read_fd
        self._keep = keep
        self._buf = bytearray()
        self.total = 0
        self.eof = threading.Event()
        threading.Thread(target=self._drain, name="mcp-stderr", daemon=True).start()

    def _drain(self) -> None:
        try:
            while chunk := os.read(self._read_fd, 65536):
                self.total += len(chunk)
                self._buf += chunk
                del self._buf[: -self._keep]
        finally:
            os.close(self._read_fd)
            self.eof.set()

    def close_writer(self) -> None:
        if not self.writer.closed:
            self.writer.close()

    def last_lines(self, n: int = 3) -> str:
        lines = [ln.strip() for ln in self._buf.decode("utf-8", errors="replace").splitlines() if ln.strip()]
        return " | ".join(lines[-n:])


def _child_with_stderr(pipe_inode: int) -> int | None:
    """Our child process whose stderr is this pipe: the server (Linux /proc; None elsewhere)."""
    me, target = os.getpid(), f"pipe:[{pipe_inode}]"
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
                if ppid == me and os.readlink(f"/proc/{entry}/fd/2") == target:
                    return int(entry)
            except (OSError, ValueError, IndexError):
                continue
    return None


def _kill_group(pid: int | None) -> None:
    """SIGKILL what is left of a server's process group (children it started and left behind)."""
    if pid is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


@contextlib.asynccontextmanager
async def _stdio_transport(params: Any, tail: _StderrTail, server: McpServer) -> AsyncIterator[Any]:
    from mcp.client.stdio import stdio_client

    try:
        async with stdio_client(params, errlog=tail.writer) as streams:
            # The SDK starts the server in a session of its own, so its pid is its process group.
            server.pid = _child_with_stderr(os.fstat(tail.writer.fileno()).st_ino)
            tail.close_writer()  # the child has its own copy now: EOF means it exited
            yield streams
    finally:
        tail.close_writer()
        # The SDK kills the group only when the server does not exit by itself; a server that
        # exits at once can leave children behind, so the group goes in every case.
        _kill_group(server.pid)


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


def describe_failure(exc: BaseException, config: ServerConfig) -> str:
    """One line on why a server could not be used."""
    leaves = [e for e in _leaves(exc) if not isinstance(e, asyncio.CancelledError)] or [exc]
    err = leaves[0]
    if isinstance(err, FileNotFoundError) and config.transport == "stdio":
        return f"command not found: {config.command}"
    if isinstance(err, PermissionError) and config.transport == "stdio":
        return f"command cannot be run (permission denied): {config.command}"
    name = type(err).__name__
    text = str(err) or name
    if name in ("ConnectError", "ConnectTimeout"):
        return f"cannot connect to {config.url}: {text}"
    if name == "MCPError" and "Connection closed" in text:
        return "the server closed the connection while starting"
    return text if name in ("MCPError", "HTTPStatusError", "StreamableHTTPError") else f"{name}: {text}"


def in_process_argv(config: ServerConfig) -> list[str] | None:
    """A built-in server run as configured (no env or cwd of its own): its arguments, to build it
    in this process; None when it must run as a process of its own."""
    module = BUILTIN_SERVERS.get(config.name)
    if not config.builtin or config.transport != "stdio" or config.env or config.cwd or module not in config.args:
        return None
    args = list(config.args)
    return args[args.index(module) + 1 :]


def _build_in_process(name: str, argv: list[str]) -> Any:
    """The built-in server object, from our installed package's code. Nothing comes from the workspace:
    the console script never has the current folder on ``sys.path``, and ``python -m assistant`` drops
    it (assistant/__main__.py), as ``python -I`` does for a built-in started as a process."""
    import importlib

    return importlib.import_module(BUILTIN_SERVERS[name]).server_from_args(argv)


def _import_sdk(builtin: str | None = None) -> None:
    """The SDK's imports (1 s or more), done in a worker thread: a blocked event loop would stall
    whatever else is starting at the same time (e.g. the probe of a served model, which then times out)."""
    import importlib

    import mcp
    import mcp.client.stdio

    if builtin is not None:
        importlib.import_module(BUILTIN_SERVERS[builtin])
        import mcp.server.mcpserver  # noqa: F401


class McpServer:
    """One configured server: its connection (owned by one task), its tools, its state.

    With a remembered tool list (see assistant/tool_memory.py) the server offers those tools at
    once: ``standby`` (an in-process built-in, connected on its first call) or ``starting`` (started
    in the background); a call waits for the connection.
    """

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.name = config.name
        self._state = "disabled" if config.disabled else "not started"
        self.error: str | None = None
        self.tools: list[Any] = []  # mcp_types.Tool
        self.instructions: str | None = None
        self.prompts: list[Any] = []  # mcp_types.Prompt
        self.resources: list[Any] = []  # mcp_types.Resource
        self.on_status: Callable[[str], None] | None = None
        self.reconnected = False  # a server that died is reconnected once
        self._refresh: asyncio.Task[None] | None = None
        self._relist_pending = False  # a change announced since the current listing began
        self.connect_seconds: float | None = None
        self._client: Any = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._tail: _StderrTail | None = None
        self.pid: int | None = None  # stdio servers, while they run
        self.in_process = in_process_argv(config)  # arguments of a built-in connected in this process
        self.memory_key: str | None = None  # where its tool list is remembered
        self.remembered: list[Any] | None = None  # the tools offered before the server answered
        self.on_change: Callable[[McpServer], None] | None = None  # live tools differ from remembered ones
        self._background: asyncio.Task[None] | None = None

    @property
    def state(self) -> str:
        if self._state == "connected" and self._tail is not None and self._tail.eof.is_set():
            return "exited"
        return self._state

    @property
    def startable(self) -> bool:
        return self._state == "not started"

    @property
    def offers_tools(self) -> bool:
        if self.remembered is not None and self._state in ("standby", "starting", "connecting"):
            return True
        return self.state == "connected"

    def offer_remembered(self, tools: list[Any]) -> None:
        """Offer a remembered list now; in-process built-ins wait for their first call, others start now."""
        self.tools, self.remembered = list(tools), list(tools)
        if self.in_process is not None:
            self._state = "standby"
        else:
            self._state = "starting"
            self._background = asyncio.create_task(self._connect_and_check(), name=f"mcp-start:{self.name}")

    async def ensure_connected(self) -> None:
        """Wait for a standby or starting server to be connected (or to fail)."""
        if self._state == "standby":
            self._state = "starting"
            self._background = asyncio.create_task(self._connect_and_check(), name=f"mcp-start:{self.name}")
        if self._background is not None and not self._background.done():
            await asyncio.shield(self._background)

    async def _connect_and_check(self) -> None:
        await self.connect()
        changed = self.state != "connected" or not _same(self.tools, self.remembered or [])
        if not changed and self.remembered is not None:
            self.tools = self.remembered  # same tools (schemas cleaned alike): keep the order already offered
        self.remembered = None
        if changed and self.on_change is not None:
            self.on_change(self)

    def skip(self, state: str, why: str) -> None:
        self._state, self.error = state, why

    def _fail(self, state: str, why: str) -> None:
        tail = self._tail.last_lines() if self._tail else ""
        self._state = state
        self.error = why + (f"; stderr: {tail}" if tail and tail not in why else "")

    async def connect(self) -> None:
        """Connect and list tools; never raises for a server problem (see ``state`` and ``error``)."""
        if self.config.problem:
            self.skip("failed", self.config.problem)
            return
        started = time.perf_counter()
        self._state = "connecting"
        self.error = None
        await asyncio.to_thread(_import_sdk, self.name if self.in_process is not None else None)
        ready = asyncio.Event()
        self._task = asyncio.create_task(self._own(ready), name=f"mcp-server:{self.name}")
        try:
            async with asyncio.timeout(self.config.startup_timeout):
                await ready.wait()
        except TimeoutError:
            self._fail("failed", f"did not finish starting within {self.config.startup_timeout:g} s")
            await self._end_task(cancel=True)
        except asyncio.CancelledError:
            await self._end_task(cancel=True)
            raise
        self.connect_seconds = time.perf_counter() - started

    async def _own(self, ready: asyncio.Event) -> None:
        from mcp import Client
        from mcp_types import Implementation

        from assistant import __version__
        from assistant.mcp_features import list_features, listen_for_changes, notification_handler

        connected = False
        try:
            async with contextlib.AsyncExitStack() as stack:
                transport = await self._transport(stack)
                info = Implementation(name="assistant", version=__version__)
                client = await stack.enter_async_context(
                    Client(transport, client_info=info, cache=None, message_handler=notification_handler(self))
                )
                self.tools = await _list_tools(client)
                self.instructions = client.instructions
                self.prompts, self.resources = await list_features(client)
                self._client, self._state, connected = client, "connected", True
                ready.set()
                listener = listen_for_changes(client, self)
                try:
                    await self._stop.wait()
                finally:
                    if listener is not None:
                        listener.cancel()
                        await asyncio.wait({listener}, timeout=CLOSE_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # ExceptionGroups from anyio task groups included
            if self.error is None:
                self._fail("exited" if connected else "failed", describe_failure(exc, self.config))
        finally:
            self._client = None
            if self._tail is not None:
                self._tail.close_writer()  # in case the transport never got to it
            if self._state in ("connected", "connecting"):
                self._state = "closed" if connected else "failed"
            ready.set()

    async def _transport(self, stack: contextlib.AsyncExitStack) -> Any:
        c = self.config
        if self.in_process is not None:
            return _build_in_process(c.name, self.in_process)  # the SDK's Client connects to it in-process
        if c.transport == "stdio":
            from mcp.client.stdio import StdioServerParameters

            self._tail = _StderrTail()
            params = StdioServerParameters(command=c.command or "", args=list(c.args), env=c.env or None, cwd=c.cwd)
            return _stdio_transport(params, self._tail, self)
        if c.transport == "sse":
            from mcp.client.sse import sse_client

            return sse_client(c.url or "", headers=c.headers or None, sse_read_timeout=max(300.0, c.timeout))
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        http = httpx2.AsyncClient(headers=c.headers, timeout=httpx2.Timeout(30.0, read=max(300.0, c.timeout)))
        stack.push_async_callback(http.aclose)
        return streamable_http_client(c.url or "", http_client=http)

    async def call(self, tool: str, arguments: dict[str, Any], progress: ProgressFn | None = None) -> tuple[str, bool]:
        """(text, is_error) of one call; ToolError when the server cannot answer."""
        from mcp import MCPError
        from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT

        client = await self.ready_client()

        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            if progress is not None:
                progress(ToolProgress(self.name, tool, value, total, message))

        try:
            result = await client.call_tool(tool, arguments, read_timeout_seconds=self.config.timeout,
                                            progress_callback=on_progress)  # fmt: skip
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:
                raise ToolError(f"the MCP server '{self.name}' did not answer within {self.config.timeout:g} s; "
                                "the call was cancelled (the server is still connected).") from None  # fmt: skip
            if exc.code == CONNECTION_CLOSED:
                raise ToolError(await self._died_during_call()) from None
            raise ToolError(f"the MCP server '{self.name}' refused the call: {exc}") from None
        except (OSError, EOFError) as exc:
            raise ToolError(await self._died_during_call(str(exc))) from None
        except ValueError as exc:  # pydantic: a result that is not valid MCP
            raise ToolError(f"the MCP server '{self.name}' sent an invalid result: {str(exc)[:300]}") from None
        return render_result(result)

    async def _died_during_call(self, detail: str = "") -> str:
        if self._tail is not None:
            await asyncio.to_thread(self._tail.eof.wait, 1.0)
        self._fail("exited", "the server exited" + (f" ({detail})" if detail else ""))
        self._stop.set()  # let the owner task close what is left of the connection
        died = f"the MCP server '{self.name}' stopped during the call ({self.error})"
        if not self.reconnected and await self.reconnect():
            return f"{died}; it was restarted, and the call was not repeated."
        return f"{died}; its tools are unavailable until the assistant restarts."

    async def reconnect(self) -> bool:
        """Once per server: start a server that died again (a status line says so)."""
        self.reconnected = True
        why = self.error or "it exited"
        await self._end_task(cancel=True)
        self._stop = asyncio.Event()
        await self.connect()
        ok = self.state == "connected"
        if self.on_status is not None:
            outcome = "reconnected" if ok else f"could not be restarted: {self.error}"
            self.on_status(f"tool server '{self.name}' died ({why}); {outcome} (servers are restarted once)")
        if ok and self.on_change is not None:
            self.on_change(self)
        return ok

    def tools_changed(self) -> None:
        """The server said its tool list changed: list it again, then update the offered tools. A change
        announced while a listing is under way is listed again after it (that list may predate it)."""
        self._relist_pending = True
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.create_task(self._relist_while_pending(), name=f"mcp-relist:{self.name}")

    async def _relist_while_pending(self) -> None:
        while self._relist_pending:
            self._relist_pending = False
            await self._relist()

    async def _relist(self) -> None:
        client = self._client
        if client is None:
            return
        try:
            tools = await _list_tools(client)
        except Exception as exc:  # the server went away meanwhile: the next call says so
            if self.on_status is not None:
                self.on_status(f"tool server '{self.name}' announced new tools but could not list them: {exc}")
            return
        before = {t.name for t in self.tools}
        self.tools = tools
        after = {t.name for t in tools}
        if self.on_status is not None:
            added, removed = sorted(after - before), sorted(before - after)
            change = ", ".join([f"+{n}" for n in added] + [f"-{n}" for n in removed]) or "descriptions or schemas"
            self.on_status(f"tool server '{self.name}' changed its tools: {change}")
        if self.on_change is not None:
            self.on_change(self)

    async def ready_client(self) -> Any:
        """The connected client, after waiting for a starting server (or restarting a dead one once)."""
        if self._state == "standby" or (self._background is not None and not self._background.done()):
            await self.ensure_connected()
        if self.state == "exited" and not self.reconnected:
            await self.reconnect()
        if self._client is None or self.state != "connected":
            why = f": {self.error}" if self.error else ""
            raise ToolError(f"the MCP server '{self.name}' is not running ({self.state}{why}).")
        return self._client

    async def _end_task(self, cancel: bool) -> None:
        task = self._task
        if task is None or task.done():
            return
        self._stop.set()
        if cancel:
            task.cancel()
        # asyncio.wait: the task's own cancellation is not ours (only a cancel of the caller raises here)
        if not (await asyncio.wait({task}, timeout=CLOSE_TIMEOUT))[0]:
            task.cancel()
            await asyncio.wait({task}, timeout=CLOSE_TIMEOUT)
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: no "exception was never retrieved" warning

    async def close(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
        background = self._background
        if background is not None and not background.done():
            background.cancel()
            await asyncio.wait({background}, timeout=CLOSE_TIMEOUT)
        await self._end_task(cancel=False)
        if self._state in ("connected", "standby", "starting"):
            self._state = "closed"


def _cleaned(tools: list[Any]) -> list[Any]:
    """Tools as remembered: schemas already cleaned and checked (so a remembered list needs no jsonschema)."""
    from dataclasses import replace

    from assistant.tool_memory import remembered

    return [replace(remembered(t), input_schema=_clean_schema(t.input_schema)) for t in tools]


def _same(live: list[Any], remembered: list[Any]) -> bool:
    from assistant.tool_memory import same_tools

    return same_tools(_cleaned(live), remembered)


async def _list_tools(client: Any) -> list[Any]:
    tools: list[Any] = []
    cursor: str | None = None
    for _ in range(100):  # a server whose pages never end cannot hang the start
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            break
    return tools


def _clean_schema(schema: dict[str, Any] | None, check: bool = True) -> dict[str, Any]:
    """The tool's input schema, as an object schema jsonschema accepts (else a permissive one)."""
    out = {k: v for k, v in (schema or {}).items() if k not in ("title", "$schema")}
    out.setdefault("type", "object")
    out.setdefault("properties", {})
    if not check:
        return out
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(out)
    except jsonschema.SchemaError:
        return {"type": "object", "properties": {}}
    return out


@dataclass
class McpTool:
    """One tool of one MCP server, as the agent loop sees it (implements ``Tool``)."""

    name: str  # as offered to the model (maybe prefixed)
    server: McpServer
    remote_name: str  # the name on the server
    description: str
    parameters: dict[str, Any]
    read_only: bool
    policy: str  # allow | ask | deny (``auto`` already resolved)
    timeout: float
    on_progress: ProgressFn | None = None
    has_dry_run: bool = False

    @property
    def server_name(self) -> str:
        return self.server.name

    def schema(self) -> dict[str, Any]:
        function = {"name": self.name, "description": self.description, "parameters": self.parameters}
        return {"type": "function", "function": function}

    def policy_for(self, arguments: dict[str, Any]) -> str:
        """A dry run changes nothing, so it needs no approval."""
        if self.has_dry_run and arguments.get("dry_run") is True and self.policy == "ask":
            return "allow"
        return self.policy

    async def call(self, arguments: dict[str, Any]) -> str:
        text, is_error = await self.server.call(self.remote_name, arguments, self.on_progress)
        if is_error:
            raise ToolError(text)
        return text

    async def preview(self, arguments: dict[str, Any]) -> tuple[str, bool] | None:
        """What the call would do, from the tool's own ``dry_run`` (for the approval question)."""
        if not self.has_dry_run or arguments.get("dry_run"):
            return None
        try:
            return await asyncio.wait_for(self.server.call(self.remote_name, {**arguments, "dry_run": True}), 30.0)
        except (ToolError, TimeoutError):
            return None


def _clean_name(name: str) -> str:
    return _BAD_NAME_CHARS.sub("_", name)[:64] or "tool"


class ToolHub:
    """The configured MCP servers and their tools."""

    def __init__(self, configs: Iterable[ServerConfig], *, on_progress: ProgressFn | None = None) -> None:
        self.servers: dict[str, McpServer] = {c.name: McpServer(c) for c in configs}
        self.on_progress = on_progress
        self.tools: dict[str, McpTool] = {}
        self.start_seconds: float | None = None
        self._registered: set[str] = set()  # names this hub put into a registry
        self._registry: ToolRegistry | None = None
        self.memory: ToolMemory | None = None
        self.workspace: Path | None = None
        self.on_status: Callable[[str], None] | None = None

    async def __aenter__(self) -> ToolHub:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Connect every startable server at once; failures are recorded, not raised.

        With ``memory``, a server whose tool list is remembered is not waited for: its remembered
        tools are offered now, and it starts in the background (in-process built-ins: on first call).
        """
        started = time.perf_counter()
        waited: list[McpServer] = []
        for server in self.servers.values():
            if not server.startable:
                continue
            tools = None
            if self.memory is not None:
                from assistant.tool_memory import config_key

                server.memory_key = config_key(server.config, self.workspace, server.in_process is not None)
                tools = self.memory.load(server.memory_key)
            server.on_change = self._server_changed
            server.on_status = self._status
            if tools is not None:
                server.offer_remembered(tools)
            else:
                waited.append(server)
        try:
            await asyncio.gather(*(s.connect() for s in waited))
        except BaseException:
            await self.aclose()
            raise
        for server in waited:
            self._remember(server)
        self.start_seconds = time.perf_counter() - started
        self.tools = self.build_tools()

    def _status(self, line: str) -> None:
        if self.on_status is not None:
            self.on_status(line)

    def instructions(self) -> list[tuple[str, str]]:
        """(server, instructions) of the connected servers that sent any; the built-ins' are left out
        (their tool descriptions say the same)."""
        live = [s for s in self.servers.values() if s.state == "connected" and not s.config.builtin]
        return [(s.name, s.instructions.strip()) for s in live if s.instructions and s.instructions.strip()]

    def _remember(self, server: McpServer) -> None:
        if self.memory is not None and server.memory_key and server.state == "connected":
            self.memory.save(server.memory_key, _cleaned(server.tools))

    def _server_changed(self, server: McpServer) -> None:
        """A server's live tools differ from the remembered ones (or it failed): the next request
        carries the new list."""
        self._remember(server)
        if server.state != "connected" and self.on_status is not None:
            self.on_status(f"tool server '{server.name}' {server.state}: {server.error}")
        if self._registry is not None:
            self.register(self._registry)

    def build_tools(self, taken: Iterable[str] = ()) -> dict[str, McpTool]:
        taken_set = set(taken)
        connected = [s for s in self.servers.values() if s.offers_tools]
        counts: dict[str, int] = {}
        for server in connected:
            for t in server.tools:
                counts[_clean_name(t.name)] = counts.get(_clean_name(t.name), 0) + 1
        tools: dict[str, McpTool] = {}
        for server in connected:
            for t in server.tools:
                name = _clean_name(t.name)
                if counts[name] > 1 or name in taken_set:
                    name = _clean_name(f"{server.name}__{t.name}")
                base, n = name, 2
                while name in tools or name in taken_set:
                    name, n = f"{base[:60]}_{n}", n + 1
                tools[name] = self._tool(server, t, name)
        return tools

    def _tool(self, server: McpServer, t: Any, name: str) -> McpTool:
        from assistant.tool_memory import RememberedTool

        params = _clean_schema(t.input_schema, check=not isinstance(t, RememberedTool))  # remembered: checked
        read_only = bool(t.annotations is not None and t.annotations.read_only_hint)
        policy = server.config.policy_for(t.name)
        if policy == "auto":
            policy = "allow" if read_only else "ask"
        dry = params.get("properties", {}).get("dry_run", {})
        return McpTool(name, server, t.name, t.description or t.title or t.name, params, read_only, policy,
                       server.config.timeout + 5.0, self.on_progress,
                       has_dry_run=isinstance(dry, dict) and dry.get("type") == "boolean")  # fmt: skip

    def register(self, registry: ToolRegistry) -> None:
        """Add the tools to ``registry`` (names already there make ours take the server prefix).

        Tools whose policy is ``deny`` are not offered to the model at all.
        """
        self._registry = registry
        for name in self._registered:
            registry.remove(name)
        self.tools = self.build_tools(taken=registry.names())
        offered = [tool for tool in self.tools.values() if tool.policy != "deny"]
        for tool in offered:
            registry.add(tool)
        self._registered = {tool.name for tool in offered}

    def failures(self) -> list[McpServer]:
        return [s for s in self.servers.values() if s.state in ("failed", "exited", "not trusted")]

    async def aclose(self) -> None:
        """Close every server at once. A stdio server still running after ``CLOSE_GRACE`` (most exit
        as soon as their stdin closes) has its process group killed instead of waited for."""
        tasks = {asyncio.ensure_future(s.close()): s for s in self.servers.values()}
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=CLOSE_GRACE)
        for task in pending:
            _kill_group(tasks[task].pid)
        await asyncio.wait(tasks)
        for task in tasks:
            if not task.cancelled():
                task.exception()  # retrieved: nothing is raised from closing


@dataclass
class McpOptions:
    """How ``Assistant`` sets up MCP tools (``Assistant(mcp=McpOptions(...))``)."""

    workspace: str | Path | None = None  # default: the current folder
    builtin: tuple[str, ...] = ()  # built-in servers to start: "files", "run"
    servers: list[ServerConfig] | None = None  # None: the mcp.json files (user and project)
    yes: bool = False  # approve every call that would ask
    ask: AskFn | None = None  # how to ask (None: nobody to ask, such calls are denied)
    on_progress: ProgressFn | None = None
    store: ApprovalStore | None = field(default=None, repr=False)
    remember_tools: bool = True  # offer remembered tool lists at once (see assistant/tool_memory.py)

    def workspace_path(self) -> Path:
        return Path(self.workspace or Path.cwd()).expanduser().resolve()


async def open_hub(stack: contextlib.AsyncExitStack, registry: ToolRegistry, options: McpOptions,
                   status: Callable[[str], None] | None = None) -> ToolHub | None:  # fmt: skip
    """Start the servers, register their tools, install the approver; closed with ``stack``."""
    workspace = options.workspace_path()
    approver = Approver(workspace, ask=options.ask, yes=options.yes, store=options.store)
    configs = options.servers
    if configs is None:  # the project's files count only once the user trusts the folder
        trusted, note = await trusted_project_settings(approver)
        if note and status is not None:
            status(note)
        configs = load_servers(workspace, options.builtin, trusted=trusted)
    if all(c.disabled for c in configs):
        return None
    hub = ToolHub(configs, on_progress=options.on_progress)
    if options.remember_tools:
        from assistant.tool_memory import ToolMemory

        hub.memory, hub.workspace, hub.on_status = ToolMemory(), workspace, status
    stack.push_async_callback(hub.aclose)
    await hub.start()
    for server in hub.failures():
        if status is not None:
            status(f"tool server '{server.name}' {server.state}: {server.error}")
    hub.register(registry)
    if getattr(registry, "approver", None) is None:
        registry.approver = approver
    return hub
