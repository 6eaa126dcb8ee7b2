"""The Chroma side: a client (embedded or a server), and one *index* = two collections.

- ``NAME`` holds the chunks: id ``<path id>:<file hash>:<seq>``, the text as the document,
  the embedding, and metadata (path, start_line, end_line, unit, heading, file_hash,
  chunk_hash, seq). Its collection metadata records the embedder that built it.
- ``NAME.files`` is the manifest: one record per indexed file (path, sha256, chunks,
  characters, state). A file is ``writing`` while its chunks go in and ``done`` after the
  old version's chunks are gone, so a run killed half-way is finished by the next one.

Embedded ``PersistentClient`` under the data dir by default (``retrieval_store`` names another
folder); ``retrieval_url`` switches to ``chromadb.HttpClient``. chromadb is imported only when a
store is opened (it costs ~1 s).

Local clients are opened and closed under one process-wide lock. chromadb keeps one ``System`` per
folder and publishes it to other clients *before* starting it, so a second client opened for the
same folder from another thread meanwhile gets one whose Rust bindings do not exist yet, and fails
with "Could not connect to tenant default_tenant" (the AttributeError underneath is swallowed).
Evals open stores from several threads at once (``asyncio.to_thread``), so this is not hypothetical.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from assistant.paths import data_dir
from assistant.retrieval.embedders import EmbedderMismatch, RetrievalError, RetrievalUnavailable

MANIFEST_SUFFIX = ".files"
SCHEMA = 1
_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,60}[A-Za-z0-9]$")
_PAGE = 2000  # records per get() when paging through a collection
_LOCAL_LOCK = threading.Lock()  # opening and closing local clients (see the module docstring)


def store_dir(settings: Any = None) -> Path:
    """The local store's folder: the ``retrieval_store`` setting, else ``<data dir>/chroma``."""
    chosen = getattr(settings, "retrieval_store", None)
    return Path(chosen).expanduser() if chosen else data_dir() / "chroma"


def local_store_exists(settings: Any = None) -> bool:
    """Cheap: is there an embedded store at all? (No chromadb import.)"""
    return (store_dir(settings) / "chroma.sqlite3").is_file()


def open_store(settings: Any) -> Store:
    """The store these settings (``assistant.config.Settings``) name: a Chroma server or a local folder."""
    url = settings.retrieval_url
    return Store(url, None if url else store_dir(settings))


def workspace_root(cwd: Path | None = None) -> Path:
    """The workspace: the nearest enclosing git checkout, else the current directory."""
    here = (cwd or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return here


def default_collection(cwd: Path | None = None) -> str:
    """One collection per workspace: its folder name and a short hash of its path."""
    root = workspace_root(cwd)
    slug = re.sub(r"[^a-z0-9]+", "-", root.name.lower()).strip("-")[:40] or "ws"
    digest = hashlib.sha1(str(root).encode()).hexdigest()[:8]
    return f"{slug}-{digest}"


def check_name(name: str) -> str:
    if not _NAME_OK.match(name) or ".." in name or name.endswith(MANIFEST_SUFFIX):
        raise RetrievalError(
            f"'{name}' cannot be a collection name.",
            hint="Use 3-62 letters, digits, '.', '_' or '-', starting and ending with a letter or digit.",
        )
    return name


def _spec_of(embedder: str) -> str:
    """The embedder setting that gives this recorded name ("minilm:all-MiniLM-L6-v2" -> "minilm")."""
    return embedder.split(":")[0] if embedder.startswith("minilm:") else embedder


def path_id(path: str) -> str:
    return hashlib.sha1(path.encode("utf-8", "surrogatepass")).hexdigest()[:20]


@dataclass(frozen=True)
class Passage:
    """One retrieved chunk and where it came from."""

    id: str
    path: str
    start_line: int
    end_line: int
    text: str
    distance: float  # cosine distance: 0 identical, 1 unrelated
    heading: str = ""
    unit: str = "line"  # "page" for PDF

    def location(self, root: Path | None = None) -> str:
        """``path:12-30`` (relative to ``root`` or the current directory when inside it)."""
        path = Path(self.path)
        with contextlib.suppress(ValueError):
            path = path.relative_to(root or Path.cwd())
        span = f"{self.start_line}" if self.start_line == self.end_line else f"{self.start_line}-{self.end_line}"
        return f"{path}:{'p' if self.unit == 'page' else ''}{span}"


@dataclass(frozen=True)
class FileRecord:
    path: str
    sha256: str
    chunks: int
    chars: int
    state: str  # "writing" | "done"
    indexed_at: float


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    embedder: str
    files: int
    chunks: int
    chars: int
    pending: int  # files whose indexing was interrupted
    dimension: int | None


def _reason(exc: BaseException) -> str:
    """``Type: message``, and the exception it replaced: chromadb hides real causes behind its own
    ("Could not connect to tenant default_tenant" for any failure while opening a local store)."""
    text = f"{type(exc).__name__}: {exc}".strip()
    inner = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    if inner is not None:
        text += f"; from {type(inner).__name__}: {inner}".rstrip()
    return text


@contextlib.contextmanager
def guard(where: str, *, local: bool = False, opening: bool = False) -> Iterator[None]:
    """Chroma's and the network's exceptions become one-line RetrievalErrors.

    ``local``: ``where`` is a folder on this machine (no server to reach or start)."""
    try:
        yield
    except RetrievalError:
        raise
    except Exception as exc:
        text = _reason(exc)
        if local:
            verb = "could not be opened" if opening else "cannot be used"
            raise RetrievalUnavailable(
                f"The local Chroma store at {where} {verb} ({text[:240]}).",
                hint="If another program is writing to it, try again when it is done; if it is corrupt, "
                "remove it (assistant index rm --all) and index again.",
            ) from None
        if "connect" in text.lower() or type(exc).__module__.startswith(("httpx", "httpcore")):
            raise RetrievalUnavailable(
                f"The Chroma server {where} is not reachable ({text[:160]}).",
                hint="Start it (chroma run --path DIR) or unset retrieval_url to use the local store.",
            ) from None
        raise RetrievalUnavailable(
            f"The Chroma store {where} cannot be used ({text[:200]}).",
            hint="If it is corrupt, remove it (assistant index rm --all) and index again.",
        ) from None


class Store:
    """A Chroma client, local (``url=None``) or remote, and the indexes in it."""

    def __init__(self, url: str | None = None, path: Path | None = None) -> None:
        self.url = url
        self.path = path or store_dir()
        self.where = url or str(self.path)
        self.local = url is None
        self._closed = False
        with guard(self.where, local=self.local, opening=True):
            self.client = self._connect()

    def guard(self) -> contextlib.AbstractContextManager[None]:
        return guard(self.where, local=self.local)

    def close(self) -> None:
        """Let go of the client (idempotent). The last local client of a folder stops chromadb's System
        for it, so the folder can be removed or opened afresh."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            if self.local:
                with _LOCAL_LOCK:
                    self.client.close()
            else:
                self.client.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> Any:
        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if self.url is None:
            self.path.mkdir(parents=True, exist_ok=True)
            with _LOCAL_LOCK:
                # one System per folder name in chromadb: the same folder must always be named the same way
                return chromadb.PersistentClient(path=str(self.path.resolve()), settings=settings)
        parsed = urlparse(self.url if "://" in self.url else f"http://{self.url}")
        if not parsed.hostname:
            raise RetrievalError(f"retrieval_url '{self.url}' has no host.", hint="e.g. http://127.0.0.1:8000")
        ssl = parsed.scheme == "https"
        port = parsed.port or (443 if ssl else 8000)
        return chromadb.HttpClient(host=parsed.hostname, port=port, ssl=ssl, settings=settings)

    def names(self) -> list[str]:
        with self.guard():
            found = [c if isinstance(c, str) else c.name for c in self.client.list_collections()]
        return sorted(n for n in found if not n.endswith(MANIFEST_SUFFIX))

    def open(self, name: str, embedder: str, *, create: bool = False, dimension: int | None = None) -> Index | None:
        """The index ``name`` checked against ``embedder``; None when it does not exist and not ``create``."""
        check_name(name)
        with self.guard():
            if name not in self.names():
                if not create:
                    return None
                meta = {
                    "embedder": embedder,
                    "schema": SCHEMA,
                    "created_at": time.time(),
                    "hnsw:space": "cosine",
                    "dimension": dimension or 0,
                }
                chunks = self.client.create_collection(name, metadata=meta, embedding_function=None)
            else:
                chunks = self.client.get_collection(name, embedding_function=None)
            built_with = (chunks.metadata or {}).get("embedder")
            if built_with is None:
                raise RetrievalError(f"Collection '{name}' was not made by `assistant index` (no embedder recorded).")
            if built_with != embedder:
                raise EmbedderMismatch(
                    f"Collection '{name}' was built with the embedder '{built_with}', not '{embedder}': "
                    "its vectors cannot be compared.",
                    hint=f'Use embedder = "{_spec_of(built_with)}" for it, or index into another collection '
                    "(--collection), or remove it (assistant index rm).",
                )
            files = self.client.get_or_create_collection(
                name + MANIFEST_SUFFIX, metadata={"manifest_of": name}, embedding_function=None
            )
        return Index(self, name, built_with, chunks, files)

    def info(self, name: str) -> CollectionInfo:
        with self.guard():
            chunks = self.client.get_collection(name, embedding_function=None)
            meta = chunks.metadata or {}
            index = Index(self, name, str(meta.get("embedder", "?")), chunks, None)
            records = index.manifest() if name + MANIFEST_SUFFIX in self._all_names() else {}
            dim = meta.get("dimension")
        return CollectionInfo(
            name=name,
            embedder=str(meta.get("embedder", "(unknown)")),
            files=sum(1 for r in records.values() if r.state == "done"),
            chunks=index.count(),
            chars=sum(r.chars for r in records.values()),
            pending=sum(1 for r in records.values() if r.state != "done"),
            dimension=int(dim) if isinstance(dim, int) and dim else None,
        )

    def _all_names(self) -> set[str]:
        return {c if isinstance(c, str) else c.name for c in self.client.list_collections()}

    def remove(self, name: str) -> bool:
        with self.guard():
            existing = self._all_names()
            if name not in existing:
                return False
            self.client.delete_collection(name)
            if name + MANIFEST_SUFFIX in existing:
                self.client.delete_collection(name + MANIFEST_SUFFIX)
        return True

    def disk_bytes(self) -> int | None:
        if self.url is not None:
            return None
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())


class Index:
    """One collection of chunks plus its manifest."""

    def __init__(self, store: Store, name: str, embedder: str, chunks: Any, files: Any) -> None:
        self.store = store
        self.name = name
        self.embedder = embedder
        self.chunks = chunks
        self.files = files

    def count(self) -> int:
        with self.store.guard():
            return int(self.chunks.count())

    def manifest(self) -> dict[str, FileRecord]:
        files = self.files or self.store.client.get_collection(self.name + MANIFEST_SUFFIX, embedding_function=None)
        out: dict[str, FileRecord] = {}
        with self.store.guard():
            offset = 0
            while True:
                got = files.get(include=["metadatas"], limit=_PAGE, offset=offset)
                for meta in got["metadatas"] or []:
                    rec = FileRecord(str(meta["path"]), str(meta["sha256"]), int(meta["chunks"]), int(meta["chars"]),
                                     str(meta["state"]), float(meta["indexed_at"]))  # fmt: skip
                    out[rec.path] = rec
                if len(got["ids"]) < _PAGE:
                    return out
                offset += _PAGE

    def mark(self, records: list[FileRecord]) -> None:
        if not records:
            return
        with self.store.guard():
            self.files.upsert(
                ids=[path_id(r.path) for r in records],
                embeddings=[[1.0] for _ in records],  # the manifest is looked up by id, never searched
                documents=[r.path for r in records],
                metadatas=[r.__dict__ for r in records],
            )

    def write(self, ids: list[str], vectors: list[list[float]], docs: list[str], metas: list[dict[str, Any]]) -> None:
        with self.store.guard():
            self.chunks.upsert(ids=ids, embeddings=vectors, documents=docs, metadatas=metas)

    def drop_stale(self, path: str, sha256: str, chunks: int) -> None:
        """Remove chunks of ``path`` from other versions, and any past the current count."""
        with self.store.guard():
            self.chunks.delete(where={"$and": [{"path": path}, {"file_hash": {"$ne": sha256}}]})
            self.chunks.delete(where={"$and": [{"path": path}, {"seq": {"$gte": chunks}}]})

    def remove_file(self, path: str) -> None:
        with self.store.guard():
            self.chunks.delete(where={"path": path})
            self.files.delete(ids=[path_id(path)])

    def search(self, vector: list[float], k: int) -> list[Passage]:
        with self.store.guard():
            dim = (self.chunks.metadata or {}).get("dimension")
            if isinstance(dim, int) and dim and dim != len(vector):
                raise EmbedderMismatch(
                    f"Collection '{self.name}' holds {dim}-dimensional vectors; the query has {len(vector)}."
                )
            got = self.chunks.query(
                query_embeddings=[vector], n_results=k, include=["documents", "metadatas", "distances"]
            )
        ids, docs = got["ids"][0], (got["documents"] or [[]])[0]
        metas, dists = (got["metadatas"] or [[]])[0], (got["distances"] or [[]])[0]
        return [
            Passage(
                cid,
                str(m["path"]),
                int(m["start_line"]),
                int(m["end_line"]),
                doc or "",
                float(d),
                str(m.get("heading", "")),
                str(m.get("unit", "line")),
            )
            for cid, doc, m, d in zip(ids, docs, metas, dists, strict=True)
        ]
