"""One attempt at a repository task, through the same ``Assistant`` users get.

``agent`` mode: a fresh copy of the repository becomes the workspace of an ``Assistant`` with the
built-in ``files`` and ``run`` servers (approvals answered yes, as ``--yes`` does; the run tool
sandboxes commands) and the default system prompt; the instruction is the user message. The
attempt ends when the model answers, or at the step limit (``max_steps`` model requests) or the
wall-clock limit, whichever comes first; the workspace is then judged as it is.

``direct`` mode (tools off): one request with the instruction and every file of the repository;
the answer's fenced blocks, each naming its file, are written into the copy and judged the same
way.

With ``retrieval`` on, the copy is indexed before the attempt into a local Chroma store of the
attempt's own (a temporary folder, whatever ``retrieval_url``/``retrieval_store`` say: evals never
touch the user's store, and concurrent attempts share nothing), and each turn gets the closest
passages (the assistant's per-turn retrieval); the store is removed afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.errors import AssistantError, EndpointError, MaxStepsExceeded, StreamInterrupted

from .generate import Generation, drain_agent
from .repotasks import TEST_COMMAND, RepoTask, Workspace

AGENT_PROMPT = """You are working in a small Python repository: the current folder (your workspace).
Files: {files}

Task: {instruction}

Use the tools to read and edit the files and to run the tests: `{tests}` (run_command).
Do not edit or delete the tests. When the tests pass, answer with one line saying what you changed."""

DIRECT_PROMPT = """Here is a small Python repository.

{listing}

Task: {instruction}

Answer with the complete new content of every file you change or add, each in its own fenced code block
whose first line is a comment naming the file, like:
```python
# file: path/to/file.py
...
```
Do not change the tests."""


@dataclass
class RepoSolver:
    """Runs attempts at repository tasks against one endpoint (see the module docstring)."""

    settings: Settings  # pointed at the endpoint under test
    mode: str = "agent"  # agent | direct
    max_steps: int = 12
    time_limit: float = 300.0  # wall seconds per attempt (agent mode)
    retrieval: bool = False

    async def attempt(self, task: RepoTask, params: dict[str, Any]) -> Generation:
        """The model's attempt; the returned Generation holds the workspace (``gen.workspace``) to judge."""
        ws = Workspace.create(task)
        try:
            if self.mode == "direct":
                gen = await self._direct(task, ws, params)
            else:
                gen = await self._agent(task, ws, params)
        except BaseException:
            ws.cleanup()
            raise
        gen.workspace = ws
        return gen

    def _settings(self, params: dict[str, Any], rag: Settings | None) -> Settings:
        """The attempt's settings; ``rag``: the retrieval settings ``_index`` made for it (None: off)."""
        base = rag or replace(self.settings, retrieval="off")
        return replace(base, max_steps=self.max_steps, temperature=params.get("temperature"),
                       max_tokens=params.get("max_tokens"))  # fmt: skip

    async def _agent(self, task: RepoTask, ws: Workspace, params: dict[str, Any]) -> Generation:
        from assistant.api import Assistant
        from assistant.mcp_config import builtin_config
        from assistant.toolhub import McpOptions

        files = ", ".join(sorted(ws.snapshot()[0]))
        prompt = AGENT_PROMPT.format(files=files, instruction=task.prompt, tests=TEST_COMMAND)
        servers = [builtin_config("files", ws.path), builtin_config("run", ws.path)]
        mcp = McpOptions(workspace=ws.path, servers=servers, yes=True)
        gen = Generation([], "", "", steps=0)
        started = time.perf_counter()
        async with self._index(ws) as rag:
            settings = self._settings(params, rag)
            async with Assistant(settings=settings, history=False, mcp=mcp) as bot:
                turn_started = time.perf_counter()
                try:
                    async with asyncio.timeout(self.time_limit):
                        await drain_agent(bot.stream(prompt), gen)
                except MaxStepsExceeded:
                    gen.finish_reason = "max_steps"
                except TimeoutError:
                    gen.finish_reason = "time_limit"
                except (EndpointError, StreamInterrupted):
                    raise  # the runner retries these
                except AssistantError as exc:  # e.g. the context overflowed: the attempt ends, judged as it is
                    gen.finish_reason = "error"
                    gen.extra["agent_error"] = exc.user_line()
                gen.extra["turn_s"] = round(time.perf_counter() - turn_started, 3)  # the agent's own time
                gen.extra["agent_profile"] = _profile_record(bot)
                gen.messages = [m.to_wire() for m in bot.conversation.messages]
                if rag:
                    gen.extra["retrieved"] = [p.location() for p in bot.last_sources]
        gen.seconds = time.perf_counter() - started
        gen.text = gen.output
        return gen

    async def _direct(self, task: RepoTask, ws: Workspace, params: dict[str, Any]) -> Generation:
        from assistant.api import Assistant

        files, _ = ws.snapshot()
        listing = "\n\n".join(f"{rel}:\n```\n{text.rstrip()}\n```" for rel, text in sorted(files.items()))
        prompt = DIRECT_PROMPT.format(listing=listing, instruction=task.prompt)
        gen = Generation([], "", "", steps=0)
        started = time.perf_counter()
        async with (
            self._index(ws) as rag,
            Assistant(settings=self._settings(params, rag), history=False, mcp=False) as bot,
        ):
            await drain_agent(bot.stream(prompt), gen)
            gen.messages = [m.to_wire() for m in bot.conversation.messages]
            if rag:
                gen.extra["retrieved"] = [p.location() for p in bot.last_sources]
        gen.seconds = time.perf_counter() - started
        gen.text = gen.output
        written, refused = apply_answer(gen.output, ws.path)
        gen.extra["applied"] = {"written": written, "refused": refused}
        return gen

    @contextlib.asynccontextmanager
    async def _index(self, ws: Workspace) -> Any:
        """Settings for retrieval over this copy of the repository, indexed into a store of its own
        (retrieval on), else None. The store's folder is removed afterwards."""
        if not self.retrieval:
            yield None
            return
        folder = Path(tempfile.mkdtemp(prefix="assistant-repotask-chroma-"))
        rag = replace(self.settings, retrieval="auto", retrieval_url=None, retrieval_store=str(folder),
                      collection="repotask")  # fmt: skip
        try:
            await asyncio.to_thread(_build_index, rag, ws.path)
            yield rag
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _profile_record(bot: Any) -> dict[str, Any]:
    """How the assistant asked this model for tools in this attempt (assistant/profile.py), if it says."""
    profile = getattr(bot, "profile", None)
    if profile is None:
        return {}
    return {"tool_calls": profile.tool_calls, "fold_results": profile.fold_results,
            "compact_tools": profile.compact_tools, "notes": list(profile.notes)}  # fmt: skip


def _build_index(settings: Settings, root: Path) -> None:
    from assistant.retrieval.embedders import make_embedder
    from assistant.retrieval.indexer import Indexer
    from assistant.retrieval.store import open_store

    embedder = make_embedder(settings.embedder, base_url=settings.embedding_url or settings.base_url)
    with open_store(settings) as store:
        Indexer(store, str(settings.collection), embedder).run([root])


# -- direct mode: files out of the answer -------------------------------------------------------

_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
_FILE_COMMENT = re.compile(r"^\s*(?:#|//)\s*(?:file(?:name)?\s*:\s*)?([\w./-]+\.\w+)\s*$", re.I)
_NAME_BEFORE = re.compile(r"([\w./-]+\.(?:py|json|txt|md|toml|cfg|ini))\b")


def answer_files(answer: str) -> list[tuple[str, str]]:
    """(path, content) of each fenced block that names its file: a first-line comment, or the line above."""
    out: list[tuple[str, str]] = []
    for match in _FENCE.finditer(answer):
        body = match.group(1)
        first, _, rest = body.partition("\n")
        named = _FILE_COMMENT.match(first)
        if named:
            out.append((named.group(1), rest))
            continue
        before = answer[: match.start()].rstrip().rsplit("\n", 1)[-1]
        found = _NAME_BEFORE.findall(before)
        if found:
            out.append((found[-1], body))
    return out


def apply_answer(answer: str, root: Path) -> tuple[list[str], list[str]]:
    """Write the answer's files into ``root``; paths that leave it are refused (with the reason)."""
    written: list[str] = []
    refused: list[str] = []
    base = root.resolve()
    for rel, text in answer_files(answer):
        target = (base / rel).resolve()
        if rel.startswith("/") or base not in target.parents:
            refused.append(f"{rel} (outside the repository)")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")  # a file given twice: the last one wins
        rel_path = target.relative_to(base).as_posix()
        if rel_path not in written:
            written.append(rel_path)
    return written, refused
