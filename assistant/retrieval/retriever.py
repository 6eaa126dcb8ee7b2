"""Retrieval at chat time: query the index with the user's message, hand passages to the context.

``open_retriever(settings)`` decides whether a chat has retrieval and why not: it is
off, there is no index for this workspace yet, the store is unreachable, or the
collection was built with another embedder (refused, never mixed). Opening is cheap
when there is no local store at all (no chromadb import), so chats without an index
pay nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.retrieval.embedders import Embedder, MiniLMEmbedder, RetrievalError, embedder_name, make_embedder
from assistant.retrieval.store import Index, Passage, default_collection, local_store_exists, open_store

PREAMBLE = (
    "Passages retrieved from the user's indexed files for their latest message, most relevant first. "
    "Use them when they answer it and cite them as [path:lines]; if they do not answer it, ignore them."
)
SHORT_QUERY_WORDS = 6
# Per-turn cutoff by embedder when retrieval_max_distance is not set (cosine distance), calibrated in
# benchmarks/bench_retrieval_quality.py: keeps nearly every relevant first hit, drops most small talk.
DEFAULT_MAX_DISTANCE = {MiniLMEmbedder.name: 0.75}
RERANK_POOL = 30  # nearest candidates re-ranked lexically (0: embedding order only); see lexical_rerank


def lexical_rerank(query: str, candidates: list[Passage]) -> list[Passage]:
    """Reciprocal-rank fusion of the embedding order with a BM25 order over the same candidates.

    Exact terms (a flag, a file name, a config key) count for something, without a separate
    lexical index: it works the same on a local store and a Chroma server.
    """
    if len(candidates) < 2:
        return candidates
    from assistant.retrieval.lexical import BM25, rrf

    bm25 = BM25([f"{Path(p.path).name} {p.heading}\n{p.text}" for p in candidates])
    scores = dict(bm25.top(query, len(candidates)))
    lexical = sorted(range(len(candidates)), key=lambda i: -scores.get(i, 0.0))
    order = rrf([list(range(len(candidates))), lexical], limit=len(candidates))
    return [candidates[i] for i in order]


def compose_query(user_text: str, earlier_user_texts: list[str], limit: int = 1500) -> str:
    """The text to search with: the message, plus the previous one when the message is a short follow-up
    ("and on Windows?"), since on its own it says too little to find anything."""
    text = user_text.strip()
    if len(text.split()) < SHORT_QUERY_WORDS and earlier_user_texts:
        text = f"{earlier_user_texts[-1].strip()[-limit // 2 :]}\n{text}"
    return text[:limit]


def format_passage(n: int, passage: Passage, root: Path | None = None) -> str:
    where = passage.location(root)
    heading = f" ({passage.heading})" if passage.heading else ""
    return f"[{n}] {where}{heading}\n{passage.text}"


def passage_messages(passages: list[Passage], root: Path | None = None) -> list[dict[str, Any]]:
    """One system message per passage, most relevant first, so the context builder can drop from the end."""
    out = []
    for n, p in enumerate(passages, start=1):
        body = format_passage(n, p, root)
        out.append({"role": "system", "content": f"{PREAMBLE}\n\n{body}" if n == 1 else body})
    return out


class Retriever:
    """Searches one index with one embedder; ``retrieve`` runs off the event loop."""

    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        *,
        top_k: int = 5,
        max_distance: float | None = None,
        root: Path | None = None,
        rerank_pool: int = RERANK_POOL,
    ) -> None:
        self.index = index
        self.rerank_pool = rerank_pool
        self.embedder = embedder
        self.top_k = top_k
        self.max_distance = max_distance
        self.root = root

    @property
    def collection(self) -> str:
        return self.index.name

    def close(self) -> None:
        """Let go of the store's client (the chat is over)."""
        self.index.store.close()

    def load(self) -> None:
        """Load the embedding model now (it otherwise loads on the first query)."""
        loader = getattr(self.embedder, "load", None)
        if callable(loader):
            loader()

    def search(self, query: str, k: int | None = None, *, cutoff: bool = False) -> list[Passage]:
        """The k best passages: the ``rerank_pool`` nearest by embedding, re-ranked by fusing that order
        with BM25 over the same candidates; with ``cutoff``, only those within ``max_distance``."""
        if not query.strip():
            return []
        k = k or self.top_k
        (vector,) = self.embedder.embed([query])
        found = self.index.search(vector, max(k, self.rerank_pool))
        if self.rerank_pool:
            found = lexical_rerank(query, found)
        found = found[:k]
        if cutoff and self.max_distance is not None:
            found = [p for p in found if p.distance <= self.max_distance]
        return found

    async def retrieve(self, query: str) -> list[Passage]:
        """Per-turn retrieval: passages too far from the message (small talk, other topics) are left out."""
        return await asyncio.to_thread(lambda: self.search(query, cutoff=True))

    def messages(self, passages: list[Passage]) -> list[dict[str, Any]]:
        return passage_messages(passages, self.root)

    def search_tool(self) -> Any:
        """``search_index(query, k)`` as a tool the model can call instead of per-turn retrieval."""
        from assistant.tools import FunctionTool

        async def search_index(query: str, k: int = 5) -> str:
            """Search the user's indexed files (documents, notes, code) for passages about a question.

            Args:
                query: What to look for, in words (a question or key terms).
                k: How many passages to return (1-10).
            """
            found = await asyncio.to_thread(self.search, query, max(1, min(int(k), 10)))
            if not found:
                return "No passages found in the index."
            return "\n\n".join(format_passage(n, p, self.root) for n, p in enumerate(found, start=1))

        return FunctionTool.from_function(search_index)


@dataclass
class RetrievalSetup:
    """What ``open_retriever`` found: a retriever, or None and the reason."""

    retriever: Retriever | None
    status: str
    problem: bool = False  # True when something is wrong (vs. simply off or not indexed yet)


def open_retriever(settings: Any, cwd: Path | None = None, *, load: bool = True) -> RetrievalSetup:
    """A retriever for these settings (``assistant.config.Settings``), or why there is none."""
    mode = getattr(settings, "retrieval", "auto")
    if mode == "off":
        return RetrievalSetup(None, "off")
    url = settings.retrieval_url
    name = settings.collection or default_collection(cwd)
    if url is None and not local_store_exists(settings):
        return RetrievalSetup(None, "no index yet (`assistant index PATH…` builds one)")
    store = None
    try:
        wanted = embedder_name(settings.embedder)
        store = open_store(settings)
        index = store.open(name, wanted)
        if index is None:
            store.close()
            return RetrievalSetup(None, f"no index for this workspace yet (collection {name}; `assistant index PATH…`)")
        embedder = make_embedder(
            settings.embedder,
            base_url=settings.embedding_url or settings.base_url,
            api_key=None if settings.embedding_url else settings.api_key,
        )
        cutoff = settings.retrieval_max_distance
        retriever = Retriever(
            index, embedder, top_k=settings.retrieval_top_k, root=cwd or Path.cwd(),
            max_distance=cutoff if cutoff is not None else DEFAULT_MAX_DISTANCE.get(wanted),
        )  # fmt: skip
        chunks = index.count()
        if load:
            retriever.load()
    except RetrievalError as exc:
        if store is not None:
            store.close()
        return RetrievalSetup(None, f"unavailable: {exc.user_line()}", problem=True)
    where = url or "local store"
    return RetrievalSetup(retriever, f"collection {name} ({chunks:,} chunks, {wanted}, {where}); mode {mode}")
