"""Retrieval end to end: the `assistant index` commands, `ask` with and without the index, the Python API,
a real Chroma server process (client/server mode, and the server going down), the real MiniLM embedder,
and (slow) the real local model answering from a retrieved passage."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.api import Assistant
from assistant.events import ToolResult
from assistant.retrieval.embedders import HashEmbedder, MiniLMEmbedder
from assistant.retrieval.indexer import Indexer
from assistant.retrieval.retriever import Retriever
from assistant.retrieval.store import Store, default_collection, store_dir
from tests.retrieval_helpers import make_corpus
from tests.scripted_server import ScriptedServer, text, tool_calls


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args], cwd=cwd, input="", capture_output=True, text=True,
        timeout=timeout, env={**os.environ, **(env or {})},
    )  # fmt: skip


def one_line_error(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], proc.stderr


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    ws = tmp_path / "ws"
    make_corpus(ws / "docs")
    (ws / ".git").mkdir()
    monkeypatch.chdir(ws)
    return ws


def index_workspace(ws: Path, url: str | None = None) -> None:
    Indexer(Store(url), default_collection(ws), HashEmbedder()).run([ws / "docs"])


def test_help_does_not_import_the_retrieval_stack() -> None:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "assistant", "--help"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0 and "index" in proc.stdout
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert not imported & {"chromadb", "torch", "onnxruntime", "sentence_transformers"}


def test_index_commands(workspace: Path) -> None:
    proc = run("index", "docs", "--embedder", "hash", cwd=workspace)
    assert proc.returncode == 0, proc.stderr
    assert "4 new" in proc.stdout and "Skipped 3: 2 binary, 1 not UTF-8 text" in proc.stdout
    assert "decoded as cp1252" in proc.stdout
    again = run("index", "docs", "--embedder", "hash", "-v", cwd=workspace)
    assert "4 unchanged" in again.stdout and "0 chunks written" in again.stdout and "data.bin: binary" in again.stdout
    status = run("index", "status", cwd=workspace)
    line = next(x for x in status.stdout.splitlines() if default_collection(workspace) in x)
    assert line.startswith("*") and "hash:384" in line and " 4 " in line
    one_line_error(run("index", "status", "nope", cwd=workspace), "no collection 'nope'")
    found = run("index", "search", "how do I remove a widget", "--embedder", "hash", cwd=workspace)
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith("[1] docs/guide.md:") and "distance" in found.stdout
    one_line_error(run("index", "search", "widgets", cwd=workspace), "built with the embedder 'hash:384'")
    one_line_error(run("index", "nowhere", "--embedder", "hash", cwd=workspace), "No such file or folder")
    removed = run("index", "rm", cwd=workspace)
    assert f"Removed {default_collection(workspace)}." in removed.stdout
    assert "No collections" in run("index", "status", cwd=workspace).stdout


def test_a_corrupt_store_is_reported_and_the_chat_goes_on(workspace: Path, scripted: ScriptedServer) -> None:
    index_workspace(workspace)
    (store_dir() / "chroma.sqlite3").write_bytes(b"garbage" * 1000)
    one_line_error(run("index", "status", cwd=workspace), "local Chroma store at")
    scripted.script(text("Still here."))
    proc = run("ask", "hello there", "--base-url", scripted.base_url, "-m", "m", "--no-tools", cwd=workspace,
               env={"ASSISTANT_EMBEDDER": "hash"})  # fmt: skip
    assert proc.returncode == 0 and proc.stdout == "Still here.\n", proc.stderr
    assert "retrieval: unavailable" in proc.stderr and "chatting without it" in proc.stderr
    assert "Removed the local store" in run("index", "rm", "--all", cwd=workspace).stdout
    assert not store_dir().exists()


def test_ask_retrieves_and_no_retrieval_turns_it_off(workspace: Path, scripted: ScriptedServer) -> None:
    index_workspace(workspace)
    scripted.script(text("Run widgetctl remove [docs/guide.md:11-13]."), text("No idea."))
    env = {"ASSISTANT_EMBEDDER": "hash"}
    proc = run("ask", "How do I remove a widget with widgetctl?", "--base-url", scripted.base_url, "-m", "m",
               "--no-tools", cwd=workspace, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "[retrieved from" in proc.stderr and "docs/guide.md:" in proc.stderr
    messages = scripted.requests[0]["messages"]
    assert messages[-1] == {"role": "user", "content": "How do I remove a widget with widgetctl?"}
    passages = [m["content"] for m in messages if m["role"] == "system" and "[1] docs/guide.md:" in m["content"]]
    assert passages and "cite them as [path:lines]" in passages[0]
    proc = run("ask", "How do I remove a widget with widgetctl?", "--no-retrieval", "--base-url", scripted.base_url,
               "-m", "m", "--no-tools", cwd=workspace, env=env)  # fmt: skip
    assert proc.returncode == 0 and "[retrieved" not in proc.stderr
    assert not any("docs/guide.md" in (m.get("content") or "") for m in scripted.requests[1]["messages"])


async def test_python_api_sources_switch_and_search_tool(workspace: Path, scripted: ScriptedServer) -> None:
    index_workspace(workspace)
    scripted.script(text("Teal on charcoal."), text("Plain."), tool_calls(("search_index", {"query": "zorblax"})),
                    text("Approved on Tuesday."))  # fmt: skip
    async with Assistant(base_url=scripted.base_url, model="m", history=False, mcp=False, embedder="hash") as bot:
        assert default_collection(workspace) in bot.retrieval_status and bot.retrieval_enabled
        await bot.ask("What is the default colour scheme of the widgets?")
        sources = bot.last_sources
        assert sources and sources[0].path.endswith("guide.md") and sources[0].start_line >= 1
        assert bot.last_report is not None and bot.last_report.sources["retrieval"].messages == len(sources)
        bot.retrieval_enabled = False
        await bot.ask("What is the default colour scheme of the widgets?")
        assert bot.last_sources == [] and "switched off" in bot.retrieval_status
    async with Assistant(base_url=scripted.base_url, model="m", history=False, mcp=False, embedder="hash",
                         retrieval="tool") as bot:  # fmt: skip
        assert "search_index" in bot.tools.names() and not bot.retrieval_enabled
        events = [e async for e in bot.stream("When was the zorblax budget approved?")]
        result = next(e for e in events if isinstance(e, ToolResult))
        assert not result.is_error and "notes.txt" in result.content and "Tuesday" in result.content
    async with Assistant(base_url=scripted.base_url, model="m", history=False, mcp=False, retrieval="off") as bot:
        assert bot.retrieval_status == "off" and not bot.retrieval_enabled


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A real Chroma server process on loopback (the `chroma` command from the chromadb package)."""
    port = free_port()
    exe = Path(sys.executable).parent / "chroma"
    log = (tmp_path / "chroma.log").open("wb")
    proc = subprocess.Popen([str(exe), "run", "--path", str(tmp_path / "chroma-server"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "chroma.log").read_text()
        time.sleep(0.2)
    try:
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def test_chroma_server_mode_and_the_server_going_down(
    workspace: Path, scripted: ScriptedServer, chroma_server: tuple[str, subprocess.Popen[bytes]]
) -> None:
    url, server = chroma_server
    proc = run("index", "docs", "--embedder", "hash", "--retrieval-url", url, cwd=workspace)
    assert proc.returncode == 0 and "4 new" in proc.stdout and url in proc.stdout, proc.stderr
    assert not store_dir().exists()  # nothing written locally
    status = run("index", "status", "--retrieval-url", url, cwd=workspace)
    assert f"store: {url}" in status.stdout and default_collection(workspace) in status.stdout
    env = {"ASSISTANT_EMBEDDER": "hash", "ASSISTANT_RETRIEVAL_URL": url}
    scripted.script(text("Tuesday."), text("I can still answer."))
    proc = run("ask", "When was the zorblax budget approved?", "--base-url", scripted.base_url, "-m", "m",
               "--no-tools", cwd=workspace, env=env)  # fmt: skip
    assert proc.returncode == 0 and "docs/notes.txt" in proc.stderr, proc.stderr
    server.terminate()
    server.wait(timeout=20)
    proc = run("ask", "When was the zorblax budget approved?", "--base-url", scripted.base_url, "-m", "m",
               "--no-tools", cwd=workspace, env=env)  # fmt: skip
    assert proc.returncode == 0 and proc.stdout == "I can still answer.\n", proc.stderr
    assert "retrieval: unavailable" in proc.stderr and "not reachable" in proc.stderr
    one_line_error(run("index", "status", "--retrieval-url", url, cwd=workspace), "not reachable")


def test_the_offline_minilm_embedder_finds_paraphrases(workspace: Path) -> None:
    """The real default embedder: loads offline, exports itself to ONNX once, same vectors after."""
    embedder = MiniLMEmbedder()
    Indexer(Store(), "minilm-docs", embedder).run([workspace / "docs"])
    assert embedder.backend_used in ("onnx", "torch")
    index = Store().open("minilm-docs", embedder.name)
    assert index is not None
    found = Retriever(index, embedder).search("Which shades does the dashboard use by default?")
    assert found[0].path.endswith("guide.md") and "teal" in found[0].text
    again = MiniLMEmbedder()  # a new process would take the cached ONNX export: same vectors
    (a,), (b,) = embedder.embed(["teal on charcoal"]), again.embed(["teal on charcoal"])
    assert again.backend_used == "onnx" and sum(x * y for x, y in zip(a, b, strict=True)) > 0.9999


@pytest.mark.slow
async def test_the_local_model_answers_from_a_retrieved_passage(local_data: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "ops.md").write_text(
        "# Operations handbook\n\n## Harbour\n\nThe zorblax harbour gate opens at 04:40 and its port number is 4711.\n"
    )
    monkeypatch.chdir(ws)
    Indexer(Store(), default_collection(ws), HashEmbedder()).run([ws])
    async with Assistant(history=False, mcp=False, embedder="hash", temperature=0.0) as bot:
        answer = await bot.ask("What is the port number of the zorblax harbour gate?")
        assert bot.last_sources and bot.last_sources[0].path.endswith("ops.md")
        assert "4711" in answer
