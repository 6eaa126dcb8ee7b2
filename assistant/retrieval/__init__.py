"""Retrieval: index files into Chroma, find the passages relevant to each turn.

Light to import (no chromadb, no torch): heavy modules load when a store is opened or
an embedder first used. Modules: chunking (read and cut files), embedders (offline
MiniLM, OpenAI-compatible, hash), store (Chroma collections and manifest), indexer
(incremental indexing), retriever (chat-time search), lexical (BM25, for comparison).
"""

from assistant.retrieval.embedders import EmbedderMismatch, RetrievalError, RetrievalUnavailable
from assistant.retrieval.retriever import RetrievalSetup, Retriever, compose_query, open_retriever, passage_messages
from assistant.retrieval.store import Passage

__all__ = [
    "EmbedderMismatch",
    "Passage",
    "RetrievalError",
    "RetrievalSetup",
    "RetrievalUnavailable",
    "Retriever",
    "compose_query",
    "open_retriever",
    "passage_messages",
]
