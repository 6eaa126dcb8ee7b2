"""Retrieval: chunking, reading bad input, incremental indexing, the store, the context budget, the agent."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
import threading
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from assistant.agent import Agent
from assistant.context import ContextBuilder, EstimateCounter
from assistant.conversation import Message
from assistant.endpoint import Endpoint, EndpointConfig
from assistant.events import Notice, Retrieved, TurnEnd
from assistant.retrieval import EmbedderMismatch, Passage, RetrievalUnavailable, compose_query, passage_messages
from assistant.retrieval.chunking import chunk_text, file_chunks, sniff
from assistant.retrieval.embedders import HashEmbedder, OpenAIEmbedder, embedder_name
from assistant.retrieval.indexer import Indexer
from assistant.retrieval.retriever import Retriever
from assistant.retrieval.store import Store, default_collection, store_dir
from tests.retrieval_helpers import CODE, GUIDE, make_corpus, minimal_pdf
from tests.scripted_server import ScriptedServer, text, tool_calls

# --- chunking ---------------------------------------------------------------------------------


def test_markdown_chunks_follow_headings_and_keep_the_trail() -> None:
    chunks = chunk_text(GUIDE, "markdown", target=200, overlap=40)
    headings = [c.heading for c in chunks]
    assert "Widget guide > Installing widgets" in headings
    assert "Widget guide > Removing widgets" in headings
    assert not any("not a heading" in h for h in headings)  # a '#' inside a code fence is not a heading
    lines = GUIDE.splitlines()
    for c in chunks:  # line ranges point at the text
        assert c.text.splitlines()[0] == lines[c.start_line - 1]
        assert c.text.splitlines()[-1] == lines[c.end_line - 1]


def test_a_long_definition_after_a_short_one_keeps_its_own_name() -> None:
    """Seen in a stdlib corpus: the short definition's name was given to every chunk of the long one."""
    long_body = "".join(f"    total += {i}  # step {i}\n" for i in range(120))
    code = "def tiny():\n    return 1\n\ndef long_one(total=0):\n" + long_body + "    return total\n"
    chunks = chunk_text(code, "code", target=600, overlap=0)
    assert len(chunks) > 3
    assert all(c.heading.startswith("def long_one") for c in chunks), [c.heading for c in chunks]
    assert "def tiny" in chunks[0].text  # the tiny one merged into the first chunk


def test_code_chunks_start_at_definitions_with_their_comments() -> None:
    chunks = chunk_text(CODE * 3, "code", target=160, overlap=0)
    starts = [c.text.splitlines()[0] for c in chunks]
    assert "# Greets people." in starts  # the comment and decorator stay with their def
    assert any(c.heading.startswith("class Port") for c in chunks)


def test_long_text_is_cut_with_overlap_and_long_lines_are_split() -> None:
    paragraphs = "\n\n".join(f"Paragraph {i}. " + "word " * 30 for i in range(20))
    chunks = chunk_text(paragraphs, "text", target=400, overlap=200)
    assert len(chunks) > 3 and all(len(c.text) <= 600 for c in chunks)
    assert any(a.end_line >= b.start_line for a, b in itertools.pairwise(chunks))  # overlap
    one_line = chunk_text("x" * 5000, "text", target=1000)
    assert len(one_line) == 5 and all(c.start_line == 1 for c in one_line)


def test_sniff_skips_binary_and_undecodable_and_decodes_cp1252(tmp_path: Path) -> None:
    make_corpus(tmp_path)
    assert sniff(tmp_path / "data.bin").skip_reason == "binary"
    assert sniff(tmp_path / "logo.png").skip_reason == "binary"
    latin = sniff(tmp_path / "latin1.txt")
    assert latin.encoding == "cp1252" and latin.note
    assert "Café crème" in next(iter(file_chunks(tmp_path / "latin1.txt", latin))).text
    assert (sniff(tmp_path / "garbage.txt").skip_reason or "").startswith("not UTF-8 text")
    (tmp_path / "u16.txt").write_bytes("\ufeffhello utf-16".encode("utf-16-le"))
    assert "hello utf-16" in next(iter(file_chunks(tmp_path / "u16.txt", sniff(tmp_path / "u16.txt")))).text


def test_pdf_pages_become_page_ranges(tmp_path: Path) -> None:
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(minimal_pdf(["Hello page one", "The zorblax port is 4711"]))
    chunks = list(file_chunks(pdf, sniff(pdf), target=20))
    assert any("4711" in c.text and c.start_line == 2 for c in chunks)


def test_rst_titles_start_chunks() -> None:
    rst = "Guide\n=====\n\nIntro text here.\n\nInstall\n-------\n\n" + "Run the installer. " * 20 + "\n"
    chunks = chunk_text(rst + "\nUsage\n-----\n\n" + "Call it. " * 30 + "\n", "rst", target=300, overlap=0)
    assert [c.heading for c in chunks][-1] == "Guide > Usage"
    assert chunks[-1].text.startswith("Usage\n-----")


def test_a_pdf_is_indexed_with_page_locations(tmp_path: Path) -> None:
    (tmp_path / "doc.pdf").write_bytes(minimal_pdf(["Hello page one", "The zorblax port is 4711"]))
    index([tmp_path / "doc.pdf"])
    idx = Store().open("test-docs", "hash:384")
    assert idx is not None
    found = Retriever(idx, HashEmbedder(), root=tmp_path).search("zorblax port")
    assert found[0].unit == "page" and found[0].location(tmp_path).startswith("doc.pdf:p")


def test_a_huge_file_is_streamed_not_loaded(tmp_path: Path) -> None:
    big = tmp_path / "big.log"
    line = "2024-01-01 INFO request served in 12 ms " * 3 + "\n"
    with big.open("w") as fh:
        for _ in range(30):
            fh.write(line * 10_000)
            fh.write("y" * 300_000 + "\n")  # very long single lines too
    assert big.stat().st_size > 40_000_000
    tracemalloc.start()
    count = sum(1 for _ in file_chunks(big, sniff(big)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count > 40_000
    assert peak < 5_000_000, f"peak {peak:,} bytes while chunking a {big.stat().st_size:,}-byte file"


# --- indexing and the store -------------------------------------------------------------------


def index(paths: list[Path], name: str = "test-docs", embedder: Any = None) -> Any:
    return Indexer(Store(), name, embedder or HashEmbedder()).run(paths)


def chunk_ids(name: str = "test-docs", embedder: str = "hash:384") -> dict[str, Any]:
    idx = Store().open(name, embedder)
    assert idx is not None
    got = idx.chunks.get(include=["metadatas"])
    return dict(zip(got["ids"], got["metadatas"], strict=True))


def test_index_is_incremental(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "corpus")
    first = index([corpus])
    assert (first.new, first.changed, first.unchanged) == (4, 0, 0)  # guide, port.py, notes, latin1
    assert first.skip_counts() == {"binary": 2, "not UTF-8 text": 1}
    assert ".hidden" not in str(chunk_ids())
    again = index([corpus])
    assert (again.new, again.changed, again.unchanged, again.chunks) == (0, 0, 4, 0)

    (corpus / "notes.txt").write_text("Meeting notes, revised.\n\nThe zorblax budget was cut on Wednesday.\n")
    (corpus / "src" / "port.py").unlink()
    third = index([corpus])
    assert (third.changed, third.removed, third.unchanged) == (1, 1, 2)
    metas = chunk_ids().values()
    assert not any(m["path"].endswith("port.py") for m in metas)
    notes = [m for m in metas if m["path"].endswith("notes.txt")]
    assert len({m["file_hash"] for m in notes}) == 1  # the old version's chunks are gone
    info = Store().info("test-docs")
    assert info.files == 3 and info.chunks == len(metas) and info.pending == 0


def test_each_chunk_keeps_path_lines_and_hash(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "corpus")
    index([corpus / "guide.md"])
    metas = list(chunk_ids().values())
    assert metas and all(m["path"] == str((corpus / "guide.md").resolve()) for m in metas)
    assert all(m["start_line"] <= m["end_line"] and len(m["chunk_hash"]) == 16 for m in metas)


def test_a_killed_run_is_finished_by_the_next_without_duplicates(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(6):
        (corpus / f"doc{i}.md").write_text("\n\n".join(f"# Part {j}\n\nDoc {i} part {j} " * 8 for j in range(12)))
    script = textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        from assistant.retrieval import store
        from assistant.retrieval.embedders import HashEmbedder
        from assistant.retrieval.indexer import Indexer
        writes = 0
        real = store.Index.write
        def write(self, *a, **k):
            global writes
            real(self, *a, **k)
            writes += 1
            if writes == 3:
                os._exit(9)  # as abrupt as a kill: no cleanup, no finally
        store.Index.write = write
        Indexer(store.Store(), "test-docs", HashEmbedder(), batch=16).run([Path({str(corpus)!r})])
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=os.environ)
    assert proc.returncode == 9, proc.stderr
    assert Store().info("test-docs").pending >= 1
    resumed = index([corpus])
    assert resumed.resumed + resumed.new == 6 - resumed.unchanged
    assert Store().info("test-docs").pending == 0
    clean = index([corpus], name="clean-docs")
    assert sorted(chunk_ids()) == sorted(chunk_ids("clean-docs"))  # same chunks, none twice
    assert clean.chunks == len(chunk_ids())


def test_querying_with_another_embedder_is_refused(tmp_path: Path) -> None:
    index([make_corpus(tmp_path / "corpus")])
    with pytest.raises(EmbedderMismatch, match="built with the embedder 'hash:384'"):
        Store().open("test-docs", embedder_name("minilm"))
    with pytest.raises(EmbedderMismatch):
        Indexer(Store(), "test-docs", HashEmbedder(128)).run([tmp_path / "corpus"])


def test_a_local_store_opened_from_several_threads_at_once_works(tmp_path: Path) -> None:
    """Issue 13: chromadb publishes a folder's System to other clients before starting it, so a client
    opened meanwhile from another thread failed with "Could not connect to tenant default_tenant"."""
    for round_ in range(6):  # each round a fresh folder: the race is in opening one for the first time
        folder = tmp_path / f"store-{round_}"
        start = threading.Barrier(4)

        def open_and_write(n: int, folder: Path = folder, start: threading.Barrier = start) -> str:
            start.wait()
            idx = Store(path=folder).open(f"docs-{n}", "hash:4", create=True)
            assert idx is not None
            idx.write([f"c{n}"], [[1.0, float(n), 0.0, 1.0]], [f"text {n}"], [{"path": f"f{n}", "seq": 0}])
            return idx.name

        with ThreadPoolExecutor(4) as pool:
            made = list(pool.map(open_and_write, range(4)))  # any failure is raised here
        assert sorted(made) == Store(path=folder).names() == [f"docs-{n}" for n in range(4)]


def test_a_closed_local_store_lets_go_of_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    with Store(path=folder) as store:
        store.open("docs", "hash:4", create=True)
    import shutil

    shutil.rmtree(folder)  # e.g. an eval's private store, removed after the attempt
    with Store(path=folder) as again:  # a fresh store in the same place, not the stopped one
        assert again.names() == []
        assert again.open("docs", "hash:4", create=True) is not None


def test_a_local_store_that_cannot_be_opened_says_so_without_server_advice(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(RetrievalUnavailable) as caught:
        Store(path=tmp_path / "store")
    line = caught.value.user_line()
    assert f"The local Chroma store at {tmp_path / 'store'} could not be opened" in line, line
    assert "server" not in line and "chroma run" not in line and "retrieval_url" not in line, line


def test_a_corrupt_store_is_a_clear_error(tmp_path: Path) -> None:
    index([make_corpus(tmp_path / "corpus")])
    (store_dir() / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(RetrievalUnavailable, match=r"local Chroma store at .* could not be opened .*not a database"):
        Store().open("test-docs", "hash:384")


def test_search_finds_the_passage_and_cites_lines(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "corpus")
    index([corpus])
    idx = Store().open("test-docs", "hash:384")
    assert idx is not None
    found = Retriever(idx, HashEmbedder(), root=corpus).search("widgetctl remove settings kept days")
    assert found[0].path.endswith("guide.md") and "30 days" in found[0].text
    assert found[0].location(corpus).startswith("guide.md:")
    assert found == sorted(found, key=lambda p: p.distance)


def test_default_collection_is_per_workspace(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "sub").mkdir()
    assert default_collection(tmp_path / "repo" / "sub") == default_collection(tmp_path / "repo")
    assert default_collection(tmp_path / "repo").startswith("repo-")
    assert default_collection(tmp_path / "repo") != default_collection(tmp_path)


def test_openai_compatible_embedder(tmp_path: Path, scripted: ScriptedServer) -> None:
    emb = OpenAIEmbedder("embed-model", scripted.base_url, "sk-x", batch_size=4)
    vectors = emb.embed([f"text {i}" for i in range(10)])
    assert len(vectors) == 10 and len(vectors[0]) == 64
    assert [len(r["input"]) for r in scripted.embedding_requests] == [4, 4, 2]
    assert scripted.embedding_requests[0]["model"] == "embed-model"
    report = Indexer(Store(), "remote-emb", emb).run([make_corpus(tmp_path / "corpus")])
    assert report.chunks > 0 and Store().info("remote-emb").embedder == "openai:embed-model"


# --- the context budget and the agent ---------------------------------------------------------


def passages(n: int, size: int = 400) -> list[Passage]:
    return [Passage(f"id{i}", f"/docs/file{i}.md", i, i + 9, f"passage {i} " + "lorem " * (size // 6), 0.1 * i)
            for i in range(n)]  # fmt: skip


async def test_passages_get_their_own_budget_and_never_crowd_out_the_input() -> None:
    builder = ContextBuilder(EstimateCounter(), 2000, reserve=200, retrieval_share=0.25)
    history = [Message("user", f"question {i} " + "x" * 300) if i % 2 == 0 else Message("assistant", "y" * 300)
               for i in range(6)]  # fmt: skip
    msgs = [*history, Message("user", "the current question")]
    report = await builder.build("system", msgs, [], passage_messages(passages(8)))
    retrieval = report.sources["retrieval"]
    assert 0 < retrieval.messages < 8 and report.dropped_passages == 8 - retrieval.messages
    assert retrieval.tokens <= report.retrieval_budget == int(1800 * 0.25)
    assert report.messages[-1] == {"role": "user", "content": "the current question"}
    first_passage = next(i for i, m in enumerate(report.messages) if "passage 0" in (m.get("content") or ""))
    assert report.messages[first_passage - 1]["role"] == "assistant"  # after the history, before the input
    big_input = [Message("user", "z" * 6000)]  # the input takes nearly everything: passages give way
    report = await builder.build("system", big_input, [], passage_messages(passages(8)))
    assert report.sources["retrieval"].messages == 0 and report.sources["input"].tokens > 1500


class FakeRetriever:
    collection = "fake-docs"

    def __init__(self, found: list[Passage] | Exception) -> None:
        self.found = found
        self.queries: list[str] = []

    async def retrieve(self, query: str) -> list[Passage]:
        self.queries.append(query)
        if isinstance(self.found, Exception):
            raise self.found
        return self.found

    def messages(self, found: list[Passage]) -> list[dict[str, Any]]:
        return passage_messages(found)


def endpoint_for(server: ScriptedServer) -> Endpoint:
    return Endpoint(EndpointConfig(base_url=server.base_url, model="m", max_retries=0))


async def test_each_turn_retrieves_once_and_every_step_carries_the_passages(scripted: ScriptedServer) -> None:
    scripted.script(tool_calls(("add", {"a": 1, "b": 2})), text("See [file0.md:0-9]."), text("Sure."))
    retriever = FakeRetriever(passages(2, 60))
    agent = Agent(endpoint_for(scripted), retriever=retriever)
    agent.tools.function(lambda a, b: a + b, name="add")
    events = [e async for e in agent.run("How do I configure the widget colours?")]
    found = [e for e in events if isinstance(e, Retrieved)]
    assert len(found) == 1 and found[0].collection == "fake-docs" and len(found[0].passages) == 2
    assert [p.id for p in agent.last_sources] == ["id0", "id1"]
    for request in scripted.requests:  # both steps of the turn
        contents = [m.get("content") or "" for m in request["messages"]]
        assert any("[1] /docs/file0.md:0-9" in c for c in contents)
    assert scripted.requests[0]["messages"][-1]["role"] == "user"
    assert agent.conversation.messages[0].content == "How do I configure the widget colours?"  # not saved
    assert agent.last_report is not None and agent.last_report.sources["retrieval"].messages == 2
    await agent.ask("and on Windows?")  # a short follow-up searches with the previous question too
    assert retriever.queries[-1] == "How do I configure the widget colours?\nand on Windows?"
    await agent.endpoint.aclose()


async def test_retrieval_switched_off_or_failing_does_not_stop_the_chat(scripted: ScriptedServer) -> None:
    scripted.script(text("One."), text("Two."))
    retriever = FakeRetriever(RetrievalUnavailable("The Chroma server http://127.0.0.1:9 is not reachable."))
    agent = Agent(endpoint_for(scripted), retriever=retriever)
    events = [e async for e in agent.run("first question here")]
    notices = [e for e in events if isinstance(e, Notice)]
    assert notices and "not reachable" in notices[0].message
    assert isinstance(events[-1], TurnEnd) and events[-1].text == "One."
    agent.retrieval_enabled = False
    retriever.found = passages(1)
    await agent.ask("second question here")
    assert len(retriever.queries) == 1 and agent.last_sources == []
    assert all("/docs/" not in (m.get("content") or "") for m in scripted.requests[1]["messages"])
    await agent.endpoint.aclose()


def test_compose_query() -> None:
    assert compose_query("What does the retry setting control exactly?", ["x"]) == (
        "What does the retry setting control exactly?"
    )
    assert compose_query("why?", []) == "why?"
    assert compose_query("and on Windows?", ["How do I install it?"]) == "How do I install it?\nand on Windows?"


def _passage(i: int, path: str, text: str) -> Passage:
    return Passage(id=f"p{i}", path=path, start_line=10 * i + 1, end_line=10 * i + 9, text=text, distance=0.2)


def test_sources_line_names_the_passages_an_answer_used() -> None:
    from assistant.citations import SOURCES_PREFIX, sources_line

    shlex_src = "class shlex:\n    def __init__(self, instream=None, posix=False):\n        self.commenters = '#'\n"
    secrets_src = "DEFAULT_ENTROPY = 32\ndef token_bytes(nbytes=None):\n    if nbytes is None:\n        nbytes = 32\n"
    found = [_passage(0, "/lib/shlex.py", shlex_src), _passage(1, "/lib/secrets.py", secrets_src)]
    line = sources_line("token_bytes uses DEFAULT_ENTROPY, which is 32 bytes, when nbytes is None.", found)
    assert line == "\n\n" + SOURCES_PREFIX + "/lib/secrets.py:11-19"
    assert sources_line("It is 32 bytes (see secrets.py).", found) == ""  # the model named the file itself
    assert sources_line("I don't know.", found) == ""  # shares nothing: no source is claimed
    assert sources_line("32", found).endswith("/lib/secrets.py:11-19")  # short, and all of it in one passage
    assert sources_line("42", found) == ""
    assert sources_line("anything", []) == ""


async def test_an_answer_from_passages_gets_a_sources_line(scripted: ScriptedServer) -> None:
    found = [_passage(0, "/docs/widget.md", "Set widget_colour in theme.toml; the default is teal_blue.")]
    scripted.script(text("Set widget_colour in theme.toml, default teal_blue."), text("Hello!"))
    agent = Agent(endpoint_for(scripted), retriever=FakeRetriever(found))
    events = [e async for e in agent.run("How do I configure the widget colours?")]
    end = events[-1]
    assert isinstance(end, TurnEnd) and end.text.endswith("Sources (matched by the assistant): /docs/widget.md:1-9")
    assert agent.conversation.messages[-1].content == end.text  # saved as shown
    events = [e async for e in agent.run("hi")]
    assert events[-1].text == "Hello!"  # nothing shared with the passages: no line
    await agent.endpoint.aclose()
