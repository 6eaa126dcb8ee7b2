"""The Python API: the same assistant as the CLI, embeddable in other programs.

import asyncio
from assistant import Assistant

async def main() -> None:
    async with Assistant() as bot:          # no endpoint configured: the local model
        @bot.tool
        def add(a: int, b: int) -> int:
            "Add two integers."
            return a + b
        print(await bot.ask("What is 2 + 40? Use the add tool."))

asyncio.run(main())
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.agent import Agent
from assistant.config import Settings, load_settings
from assistant.conversation import Conversation
from assistant.endpoint import Endpoint, EndpointConfig
from assistant.errors import EndpointError
from assistant.events import Finish
from assistant.tools import Tool, ToolRegistry

if TYPE_CHECKING:
    from assistant.context import ContextBuilder, ContextReport
    from assistant.conversation import Summary
    from assistant.instructions import ProjectInstructions
    from assistant.local.prefix import PrefixCache
    from assistant.profile import Capabilities, ModelProfile
    from assistant.retrieval import Passage, RetrievalSetup, Retriever
    from assistant.toolhub import McpOptions, ToolHub


WORKSPACE_TOOLS = ("read_file", "list_files")  # tools that mean the model works on a folder


def default_system_prompt() -> str:
    return (resources.files("assistant.prompts") / "system.md").read_text(encoding="utf-8").strip()


class Assistant:
    """An async context manager around one conversation with one endpoint.

    Keyword arguments override settings from the environment and config file
    (``base_url``, ``model``, ``api_key``, ``profile``, ``max_steps``, ...).
    With no ``base_url`` anywhere, the embedded local model is started (or a
    running ``assistant serve`` reused) and stopped again on exit.
    ``mcp``: MCP tool servers (True: those in mcp.json; ``McpOptions`` for built-ins, workspace,
    approval; False: none). See assistant/toolhub.py.
    Retrieval (``retrieval="auto"|"tool"|"off"``, ``collection``, ``retrieval_url``, ``embedder``):
    when this workspace has an index, each turn searches it (see assistant/retrieval/);
    ``retrieval_status`` says what was found, ``last_sources`` what the last turn retrieved.
    """

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        system_prompt: str | None = None,
        tools: ToolRegistry | None = None,
        on_status: Callable[[str], None] | None = None,
        history: bool | Path = True,
        conversation: str | None = None,
        continue_last: bool = False,
        mcp: bool | McpOptions = True,
        instructions: bool | str = "auto",
        **overrides: Any,
    ) -> None:
        self.settings = settings or load_settings(overrides)
        self.tools = tools or ToolRegistry(timeout=self.settings.tool_timeout)
        self.system_prompt = system_prompt if system_prompt is not None else default_system_prompt()
        self.on_status = on_status
        self.history = history  # False: memory only; a Path: that database file
        self.conversation_id = conversation
        self.continue_last = continue_last
        self.endpoint: Endpoint | None = None
        self.agent: Agent | None = None
        self.local_server: Any = None
        self.mcp = mcp
        # Project instructions (AGENTS.md, .assistant/instructions.md; assistant/instructions.py): "auto" adds
        # them once the user trusts them, True adds them as they are, False never.
        self.instructions_mode = instructions
        self.project_instructions: ProjectInstructions | None = None  # the ones in use
        self.hub: ToolHub | None = None
        self.retrieval: RetrievalSetup | None = None
        self.profile: ModelProfile | None = None  # how this model is asked for tools (assistant/profile.py)
        self._stack = contextlib.AsyncExitStack()
        self._prefix: PrefixCache | None = None  # the saved prompt prefix of a llama-server we started
        self._prefix_key: str | None = None
        self._prefix_done = False

    async def __aenter__(self) -> Assistant:
        try:
            await self._connect()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def _connect(self) -> None:
        tools_ready = asyncio.ensure_future(self._open_mcp())  # MCP servers start while the model does
        index_ready = asyncio.ensure_future(self._open_retrieval())  # and the embedder loads
        try:
            await self._connect_endpoint()
        except BaseException:
            tools_ready.cancel()
            index_ready.cancel()
            await asyncio.gather(tools_ready, index_ready, return_exceptions=True)
            raise
        await tools_ready
        await index_ready
        await self._load_instructions()  # after the MCP servers: one question at a time on the terminal
        self._attach_retrieval()
        if self.agent is not None and self.hub is not None:
            self.agent.server_instructions = self.hub.instructions  # MCP servers' instructions, in the system prompt
        if self.agent is not None and self.hub is not None and any(n in self.tools.names() for n in WORKSPACE_TOOLS):
            from assistant.toolhub import McpOptions

            options = self.mcp if isinstance(self.mcp, McpOptions) else McpOptions()
            self.agent.workspace = options.workspace_path()
        self._use_prompt_cache()

    def _use_prompt_cache(self) -> None:
        """On our local llama-server: keep the prompt cache, and send every request to the slot that
        holds our prefix (the one restored from disk on a server we own)."""
        if self.endpoint is None or self.local_server is None:
            return
        extra: dict[str, Any] = {"cache_prompt": True}
        if self.local_server.owned:
            from assistant.local.models import get_model
            from assistant.local.prefix import SLOT, PrefixCache

            extra["id_slot"] = SLOT
            sha = get_model(self.local_server.model).sha256
            self._prefix = PrefixCache(self.local_server.root_url, sha, slot=SLOT, status=self.on_status,
                                       api_key=self.local_server.api_key)  # fmt: skip
        config = self.endpoint.config
        self.endpoint.config = replace(config, extra_body={**extra, **config.extra_body})

    def _workspace(self) -> tuple[Path, Any]:
        """The folder the chat works on, and the MCP options (how to ask the user), if any."""
        from assistant.toolhub import McpOptions

        if isinstance(self.mcp, McpOptions):
            return self.mcp.workspace_path(), self.mcp
        return Path.cwd().resolve(), None

    async def _load_instructions(self) -> None:
        """The project's instruction files into the system message, under the folder trust rule."""
        if self.instructions_mode is False or self.agent is None:
            return
        from assistant.instructions import read_instructions, trusted_instructions

        workspace, options = self._workspace() if self.mcp is not False else (Path.cwd().resolve(), None)
        note = None
        if self.instructions_mode is True:  # the caller vouches for them
            found: ProjectInstructions | None = read_instructions(workspace)
        else:
            from assistant.approval import Approver

            approver = Approver(workspace, ask=getattr(options, "ask", None), store=getattr(options, "store", None))
            found, note = await trusted_instructions(approver)
        if note and self.on_status is not None:
            self.on_status(note)
        if found is None or not found.present:
            return
        self.project_instructions = found
        self.agent.instructions = found.prompt_block()
        self.agent.instruction_files = found.names()
        if self.on_status is not None:
            self.on_status("project instructions: " + ", ".join(found.names()))

    async def _open_retrieval(self) -> None:
        from assistant.retrieval import RetrievalSetup, open_retriever

        try:
            self.retrieval = await asyncio.to_thread(open_retriever, self.settings)
        except Exception as exc:  # retrieval is an extra: it never stops the chat from starting
            self.retrieval = RetrievalSetup(None, f"unavailable: {type(exc).__name__}: {exc}", problem=True)
        if self.retrieval.retriever is not None:
            self._stack.callback(self.retrieval.retriever.close)
        if self.on_status is not None and (self.retrieval.retriever is not None or self.retrieval.problem):
            tail = "; chatting without it" if self.retrieval.problem else ""
            self.on_status(f"retrieval: {self.retrieval.status}{tail}")

    def _attach_retrieval(self) -> None:
        """Per-turn retrieval in mode "auto"; in mode "tool" the model gets search_index instead."""
        retriever = self.retrieval.retriever if self.retrieval else None
        if self.agent is None or retriever is None:
            return
        self.agent.retriever = retriever
        self.agent.retrieval_enabled = self.settings.retrieval == "auto"
        if self.settings.retrieval == "tool" and "search_index" not in self.tools.names():
            self.tools.add(retriever.search_tool())

    async def _open_mcp(self) -> None:
        if self.mcp is False:
            return
        from assistant.toolhub import McpOptions, open_hub

        options = McpOptions() if self.mcp is True else self.mcp
        self.hub = await open_hub(self._stack, self.tools, options, self.on_status)

    async def _connect_endpoint(self) -> None:
        from assistant.compaction import compact_threshold
        from assistant.profile import llama_server_capabilities, probe

        s = self.settings
        base_url, model = s.base_url, s.model
        if base_url is None:
            base_url, model = await self._open_local()
            caps = llama_server_capabilities(base_url, model, self.local_server.ctx)
        else:
            caps = await probe(base_url, s.api_key)
            model = await self._check_model(base_url, model, caps)
            if caps.source == "cache" and model not in caps.models:
                caps = await probe(base_url, s.api_key, use_cache=False)
        self.profile = self._build_profile(model, caps)
        endpoint = Endpoint(self._endpoint_config(base_url, model))
        self._stack.push_async_callback(endpoint.aclose)
        self.endpoint = endpoint
        temperature = s.temperature if s.temperature is not None else self.profile.temperature
        params: dict[str, Any] = {"temperature": temperature, "max_tokens": s.max_tokens}
        self.agent = Agent(
            endpoint,
            self.tools,
            self._open_conversation(),
            system_prompt=self.system_prompt,
            max_steps=s.max_steps,
            params=params,
            fold_tool_results=self.profile.fold_results,
            builder=await self._context_builder(endpoint.config.base_url),
            profile=self.profile,
            compact_at=compact_threshold(s.compact_at),
        )

    def _build_profile(self, model: str, caps: Capabilities) -> ModelProfile:
        from assistant.profile import build_profile

        s = self.settings
        return build_profile(model, caps, tool_calls=s.tool_calls, text_tool_calls=s.text_tool_calls,
                             local=s.is_local)  # fmt: skip

    def _api_key(self) -> str | None:
        """The key the endpoint wants: our local llama-server's own, else the configured one."""
        if self.local_server is not None:
            return str(self.local_server.api_key) if self.local_server.api_key else None
        return self.settings.api_key

    def _endpoint_config(self, base_url: str, model: str) -> EndpointConfig:
        s = self.settings
        return EndpointConfig(
            base_url=base_url,
            model=model,
            api_key=self._api_key(),
            timeout=s.timeout,
            connect_timeout=s.connect_timeout,
            max_retries=s.max_retries,
            text_tool_calls=self.profile.text_tool_calls if self.profile else s.recognise_text_calls,
            logprobs=s.logprobs if s.logprobs is not None else (5 if s.is_local else 0),
        )

    async def _check_model(self, base_url: str, model: str | None, caps: Capabilities) -> str:
        """The model to ask for: the one given, else the first the endpoint lists."""
        if model:
            return model
        models = list(caps.models)
        if not models:
            probe_endpoint = Endpoint(EndpointConfig(base_url=base_url, model="", api_key=self.settings.api_key))
            try:
                models = await probe_endpoint.list_models()
            finally:
                await probe_endpoint.aclose()
        if not models:
            raise EndpointError(f"{base_url} lists no models.", hint="Pass --model.")
        return models[0]

    def _open_conversation(self) -> Conversation:
        """The conversation to continue, or a new one; in the SQLite history unless history=False."""
        if self.history is False:
            return Conversation()
        from assistant.history import History

        store = History(self.history if isinstance(self.history, Path) else None)
        self._stack.callback(store.close)
        if self.continue_last and not self.conversation_id:
            self.conversation_id = store.latest()
        if self.conversation_id:
            return Conversation.load(store, self.conversation_id)
        conv = Conversation.create(store, model=self.settings.model or "", endpoint=self.settings.base_url or "")
        self._stack.callback(_drop_if_empty, conv)
        return conv

    async def _context_builder(self, base_url: str) -> ContextBuilder:
        """Exact token counts and the real window from llama-server where possible, else estimates."""
        from assistant.context import ContextBuilder, detect_counter

        s = self.settings
        caps = self.profile.capabilities if self.profile is not None else None
        if caps is not None and caps.source != "none":  # known or probed already: no request here
            from assistant.context import EstimateCounter, ServerTokenizer, TokenCounter

            root = base_url.rstrip("/").removesuffix("/v1")
            key = self._api_key()
            counter: TokenCounter = ServerTokenizer(root, api_key=key) if caps.tokenize else EstimateCounter()
            window = caps.context_window
        else:
            counter, window = await detect_counter(base_url, self._api_key())
        closer = getattr(counter, "aclose", None)
        if closer is not None:
            self._stack.push_async_callback(closer)
        return ContextBuilder(
            counter,
            window or s.context_size,
            reserve=s.max_tokens or 1024,
            fold_tool_results=self.profile.fold_results if self.profile else s.recognise_text_calls,
            retrieval_share=s.retrieval_share,
        )

    async def _open_local(self) -> tuple[str, str]:
        import time

        from assistant.local.server import open_local_server

        s = self.settings
        name = local_model_name(s)
        status = self.on_status or (lambda _msg: None)
        started = time.perf_counter()
        status(f"starting the local model {name} (llama-server)…")
        server = await self._stack.enter_async_context(
            open_local_server(name, ctx=s.context_size, progress=_progress_reporter(status), status=status)
        )
        self.local_server = server
        how = "started" if server.owned else "reusing the running `assistant serve`"
        status(f"local model ready: {how}, {time.perf_counter() - started:.1f} s, {server.base_url}")
        return server.base_url, server.model

    @property
    def model(self) -> str:
        return self.endpoint.config.model if self.endpoint else ""

    @property
    def base_url(self) -> str:
        return self.endpoint.config.base_url if self.endpoint else ""

    def tool(self, func: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
        """Register a Python function as a tool (decorator or call)."""
        return self.tools.function(func, name=name)

    def add_tool(self, tool: Tool) -> None:
        self.tools.add(tool)

    def _require_agent(self) -> Agent:
        if self.agent is None:
            raise RuntimeError("Use Assistant inside 'async with'.")
        return self.agent

    async def stream(self, text: str, *, output: Any = None, attachments: Sequence[Any] = ()) -> AsyncIterator[Any]:
        """Events of one turn as they happen.

        ``output`` (a pydantic model class or a JSON Schema dict): the answer must be JSON matching
        it; the turn offers no tools and ends with a ``StructuredResult`` (see assistant/structured.py).
        ``attachments``: file paths (or ``Attachment`` objects) for this turn; ``@server:uri`` in the
        text attaches an MCP server's resource (see assistant/attachments.py).
        """
        agent = self._require_agent()
        attached = await self.attachments_for(text, attachments)
        events: AsyncIterator[Any]
        if output is not None:
            from assistant.structured import OutputSpec, structured_turn

            events = structured_turn(agent, text, OutputSpec.of(output), attached)  # a bad schema: refused here
        else:
            events = agent.run(text, attachments=attached)
        if self._prefix is not None and self._prefix_key is None:
            await self._restore_prefix(agent)
        async for event in events:
            yield event
            if self._prefix is not None and not self._prefix_done and isinstance(event, Finish):
                await self._save_prefix(agent)  # the slot now holds this request: keep it for a cold start

    async def _restore_prefix(self, agent: Agent) -> None:
        from assistant.local.prefix import prefix_key

        assert self._prefix is not None
        system = (agent.system_prompt or "") + (agent.instructions or "")
        self._prefix_key = prefix_key(self._prefix.model_sha256, system, agent.tools.schemas())
        if await self._prefix.restore(self._prefix_key) is not None:
            self._prefix_done = True  # nothing to save: the file is there and works

    async def _save_prefix(self, agent: Agent) -> None:
        """After the first request that began with the keyed prefix: save the slot."""
        from assistant.local.prefix import prefix_key

        assert self._prefix is not None and self._prefix_key is not None
        report = agent.last_report
        system = (agent.system_prompt or "") + (agent.instructions or "")
        key = prefix_key(self._prefix.model_sha256, system, report.tools) if report else None
        if key != self._prefix_key:
            return  # e.g. this request offered no tools: the slot holds another prefix
        self._prefix_done = True
        if not self._prefix.has(self._prefix_key):
            await self._prefix.save(self._prefix_key)

    async def attachments_for(self, text: str, files: Sequence[Any] = ()) -> list[Any]:
        """Files and ``@server:uri`` resources as attachments, checked before any request
        (AttachmentError: missing, binary, too large, or an image for a model that takes none)."""
        from assistant.attachments import Attachment, AttachmentError, check_images, load_file
        from assistant.errors import ToolError

        out = [f if isinstance(f, Attachment) else await asyncio.to_thread(load_file, f) for f in files]
        if self.hub is not None:
            from assistant.mcp_features import read_resource_text, resource_mentions

            for server, uri in resource_mentions(text, self.hub):
                try:
                    mime, body = await read_resource_text(self.hub, server, uri)
                except ToolError as exc:
                    raise AttachmentError(exc.user_line()) from None
                out.append(Attachment(f"{server}:{uri}", "text", text=body, mime=mime))
        caps = self.profile.capabilities if self.profile is not None else None
        check_images(out, caps.vision if caps is not None else None, self.model)
        return out

    async def ask(self, text: str, *, output: Any = None, attachments: Sequence[Any] = ()) -> Any:
        """One turn, drained: the final answer text; with ``output=`` (a pydantic model class or a
        JSON Schema dict) the validated answer: an instance of the model, or the JSON value.
        ``attachments``: file paths for this turn (see ``stream``)."""
        from assistant.events import TurnEnd
        from assistant.structured import StructuredResult

        final: Any = ""
        async for event in self.stream(text, output=output, attachments=attachments):
            if isinstance(event, TurnEnd) and output is None:
                final = event.text
            elif isinstance(event, StructuredResult):
                final = event.value
        return final

    def new_conversation(self) -> None:
        """Start over: a new conversation (the old one stays in the history)."""
        agent = self._require_agent()
        store = agent.conversation.store
        if store is None:
            agent.start_new_conversation(Conversation())
            return
        _drop_if_empty(agent.conversation)
        conv = Conversation.create(store, model=self.model, endpoint=self.base_url)
        self._stack.callback(_drop_if_empty, conv)
        agent.start_new_conversation(conv)

    def switch_conversation(self, conversation_id: str) -> None:
        agent = self._require_agent()
        if agent.conversation.store is None:
            raise RuntimeError("This assistant keeps no history (history=False).")
        agent.start_new_conversation(Conversation.load(agent.conversation.store, conversation_id))

    async def switch_model(self, name: str) -> None:
        """Use another model at the same endpoint (it must be one the endpoint lists)."""
        from dataclasses import replace

        from assistant.errors import ModelNotFound

        agent = self._require_agent()
        endpoint = agent.endpoint
        available = await endpoint.list_models()
        if name not in available:
            raise ModelNotFound(
                f"{endpoint.config.base_url} does not serve '{name}'.", available=available,
                hint="It offers: " + (", ".join(available) or "nothing") + ".",
            )  # fmt: skip
        new = Endpoint(replace(endpoint.config, model=name), tracer=endpoint.tracer)
        self._stack.push_async_callback(new.aclose)
        if self.profile is not None:
            self.profile = self._build_profile(name, self.profile.capabilities)
            new.config = replace(new.config, text_tool_calls=self.profile.text_tool_calls)
        agent.set_endpoint(new, self.profile)
        self.endpoint = new

    async def compact(self, focus: str | None = None) -> Summary:
        """Summarise the earlier turns (all but the most recent ones) into one message that replaces
        them in every request from now on; ``focus`` says what the summary must keep. The history keeps
        every message; ``uncompact()`` goes back to them. Raises ``CompactionFailed`` (one line; nothing
        changed). The automatic path does the same when a request would pass ``compact_at`` of the window."""
        return await self._require_agent().compact(focus)

    def uncompact(self) -> bool:
        """Drop the summary in use (requests carry the summarised messages again, and automatic compaction is
        off for this session); False if there was none."""
        return self._require_agent().uncompact()

    @property
    def summary(self) -> Summary | None:
        """The compaction summary in use for this conversation, if any (text, turns, tokens, ...)."""
        return self._require_agent().conversation.summary

    def forget_last_turn(self) -> str | None:
        """Remove the last turn (question, answer, tool calls) and return its question, for /retry."""
        return self._require_agent().conversation.pop_last_turn()

    @property
    def last_report(self) -> ContextReport | None:
        """What the last request carried, per source (see assistant.context.ContextReport)."""
        return self._require_agent().last_report

    @property
    def conversation(self) -> Conversation:
        return self._require_agent().conversation

    @property
    def retriever(self) -> Retriever | None:
        """The index this chat searches (None: no index, retrieval off, or unavailable)."""
        return self.retrieval.retriever if self.retrieval else None

    @property
    def retrieval_status(self) -> str:
        """One line: the collection in use, or why there is no retrieval."""
        if self.retrieval is None:
            return "off" if self.settings.retrieval == "off" else "not started"
        state = "" if self.retriever is None or self.retrieval_enabled else " (per-turn retrieval switched off)"
        return self.retrieval.status + state

    @property
    def retrieval_enabled(self) -> bool:
        """Whether each turn searches the index (settable, e.g. for /rag on|off)."""
        agent = self._require_agent()
        return agent.retriever is not None and agent.retrieval_enabled

    @retrieval_enabled.setter
    def retrieval_enabled(self, on: bool) -> None:
        self._require_agent().retrieval_enabled = bool(on)

    @property
    def last_sources(self) -> list[Passage]:
        """Passages retrieved for the last turn, most relevant first (path, start_line, end_line, distance,
        text; ``location()`` gives ``path:12-30``). Empty when nothing was retrieved."""
        return list(self._require_agent().last_sources)


def local_model_name(s: Settings) -> str:
    """The local model to run: ``--model`` names one of the embedded models, else ``local_model``."""
    from assistant.errors import ModelNotFound
    from assistant.local.models import MODELS

    if not s.model:
        return s.local_model
    if s.model in MODELS:
        return s.model
    names = sorted(MODELS)
    raise ModelNotFound(
        f"There is no local model '{s.model}'.", available=names,
        hint="Local models: " + ", ".join(names) + ". For another endpoint give --base-url.",
    )  # fmt: skip


def _drop_if_empty(conv: Conversation) -> None:
    if conv.store is not None and not conv.messages:
        import contextlib as _cl

        from assistant.errors import AssistantError

        with _cl.suppress(AssistantError):
            if conv.store.count(conv.id) == 0:
                conv.store.delete(conv.id)


def _progress_reporter(status: Callable[[str], None]) -> Callable[[str, int, int], None]:
    """Model assembly progress as a few status lines (every 25%)."""
    words = {"wait": "waiting for another process assembling the model",
             "verify": "verifying the model file", "assemble": "assembling the model file"}  # fmt: skip
    shown: set[tuple[str, int]] = set()

    def report(phase: str, done: int, total: int) -> None:
        quarter = 4 * done // total if total else 4
        if (phase, quarter) not in shown:
            shown.add((phase, quarter))
            status(f"{words.get(phase, phase)}: {25 * quarter}%")

    return report


def _with_model(config: EndpointConfig, model: str) -> EndpointConfig:
    from dataclasses import replace

    return replace(config, model=model)
