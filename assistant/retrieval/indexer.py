"""Incremental indexing: walk the paths, skip what did not change, write what did, drop what is gone.

Per file: sha256 of its bytes → unchanged (same hash, state ``done``) is skipped;
otherwise the manifest marks it ``writing``, its chunks are embedded and upserted in
batches (ids ``<path id>:<hash>:<seq>``, so a repeated write never duplicates), the old
version's chunks are deleted, and the manifest marks it ``done``. Killed at any point,
the next run sees ``writing`` (or the old hash) and does the file again. Files that were
indexed under a given folder and are gone now (or now unreadable) are removed.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.retrieval.chunking import Chunk, file_chunks, sniff
from assistant.retrieval.embedders import Embedder, RetrievalError
from assistant.retrieval.store import FileRecord, Index, Store, path_id

PRUNE_DIRS = {"node_modules", "__pycache__"}
BATCH = 64


@dataclass(frozen=True)
class Progress:
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    chunks: int
    seconds: float
    current: str = ""


@dataclass
class IndexReport:
    collection: str
    embedder: str
    files: int = 0
    new: int = 0
    changed: int = 0
    resumed: int = 0  # left half-done by an interrupted run
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0  # written this run
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (path, e.g. "decoded as cp1252")
    seconds: float = 0.0
    embed_seconds: float = 0.0

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0

    def skip_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, reason in self.skipped:
            key = reason.split(" (")[0]
            counts[key] = counts.get(key, 0) + 1
        return counts


def collect(paths: list[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files under ``paths`` (hidden folders, node_modules and __pycache__ pruned) and unreadable folders."""
    files: list[Path] = []
    problems: list[tuple[str, str]] = []
    for given in paths:
        root = given.expanduser().resolve()
        if not root.exists():
            raise RetrievalError(f"No such file or folder: {given}.")
        if any(root == Path(d) or Path(d) in root.parents for d in SPECIAL_DIRS):
            problems.append((str(root), "a kernel or device folder; not indexed"))
            continue
        if root.is_file():
            files.append(root)
            continue

        def onerror(exc: OSError) -> None:
            problems.append((str(exc.filename), f"unreadable folder ({exc.strerror})"))

        for folder, dirs, names in os.walk(root, onerror=onerror):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in PRUNE_DIRS
                             and os.path.join(folder, d) not in SPECIAL_DIRS)  # fmt: skip
            for name in sorted(names):
                if not name.startswith("."):
                    path = Path(folder) / name
                    if _regular(path):  # a FIFO or a device would block the read (or never end)
                        files.append(path)
                    else:
                        problems.append((str(path), "not a regular file (FIFO, socket or device); skipped"))
    unique = list(dict.fromkeys(files))
    return unique, problems


SPECIAL_DIRS = {"/proc", "/sys", "/dev", "/run"}  # kernel and device filesystems: never indexed


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True  # reported as unreadable when it is read


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def embed_text(path: str, chunk: Chunk) -> str:
    """What gets embedded: the file name and heading trail give a chunk its context."""
    title = Path(path).name + (f" · {chunk.heading}" if chunk.heading else "")
    return f"{title}\n{chunk.text}"


@dataclass
class _Job:
    path: str
    sha256: str
    previous: FileRecord | None
    chunks: int = 0
    chars: int = 0
    closed: bool = False
    marked: bool = False


class Indexer:
    def __init__(
        self,
        store: Store,
        collection: str,
        embedder: Embedder,
        *,
        batch: int = BATCH,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.store = store
        self.collection = collection
        self.embedder = embedder
        self.batch_size = batch
        self.on_progress = on_progress
        self.index: Index | None = None
        self._batch: list[tuple[_Job, Chunk, int]] = []  # (file, chunk, sequence number in its file)
        self._open: list[_Job] = []
        self.report = IndexReport(collection, embedder.name)
        self._last = Progress(0, 0, 0, 0, 0, 0.0)
        self._started = time.perf_counter()

    def run(self, paths: list[Path]) -> IndexReport:
        started = self._started = time.perf_counter()
        report = self.report = IndexReport(self.collection, self.embedder.name)
        files, report.skipped = collect(paths)
        self.index = self.store.open(self.collection, self.embedder.name)
        manifest = self.index.manifest() if self.index else {}
        sizes = {f: _size(f) for f in files}
        total, done_bytes = sum(sizes.values()), 0
        seen: set[str] = set()
        for n, path in enumerate(files, start=1):
            if self._one(path, manifest, report):
                seen.add(str(path))
            done_bytes += sizes[path]
            self._progress(n, len(files), done_bytes, total, started, str(path))
        self._flush()
        self._finish_closed()
        report.removed = self._remove_gone(paths, manifest, seen)
        report.files = len(seen)
        report.seconds = time.perf_counter() - started
        return report

    def _one(self, path: Path, manifest: dict[str, FileRecord], report: IndexReport) -> bool:
        """Index one file (or skip it); True when it is in the index afterwards."""
        key = str(path)
        sniffed = sniff(path)
        if sniffed.skip_reason:
            report.skipped.append((key, sniffed.skip_reason))
            return False
        try:
            digest = file_sha256(path)
        except OSError as exc:
            report.skipped.append((key, f"unreadable ({exc.strerror or exc})"))
            return False
        previous = manifest.get(key)
        if previous and previous.sha256 == digest and previous.state == "done":
            report.unchanged += 1
            return True
        if sniffed.note:
            report.notes.append((key, sniffed.note))
        job = _Job(key, digest, previous)
        self._open.append(job)
        try:
            for chunk in file_chunks(path, sniffed):
                self._batch.append((job, chunk, job.chunks))
                job.chunks += 1
                job.chars += len(chunk.text)
                if len(self._batch) >= self.batch_size:
                    self._flush()
        except RetrievalError:
            raise
        except Exception as exc:  # unreadable half-way, a broken PDF...
            self._abandon(job)
            report.skipped.append((key, f"unreadable ({type(exc).__name__}: {str(exc)[:120]})"))
            return False
        job.closed = True
        if previous is None:
            report.new += 1
        elif previous.state != "done" and previous.sha256 == digest:
            report.resumed += 1
        else:
            report.changed += 1
        return True

    def _flush(self) -> None:
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        t0 = time.perf_counter()
        vectors = self.embedder.embed([embed_text(job.path, c) for job, c, _ in batch])
        self.report.embed_seconds += time.perf_counter() - t0
        index = self._ensure_index(len(vectors[0]))
        new_jobs = list({id(j): j for j, _, _ in batch if not j.marked}.values())
        index.mark([FileRecord(j.path, j.sha256, 0, 0, "writing", time.time()) for j in new_jobs])
        for j in new_jobs:
            j.marked = True
        ids, docs, metas = [], [], []
        for job, chunk, seq in batch:
            ids.append(f"{path_id(job.path)}:{job.sha256[:16]}:{seq}")
            docs.append(chunk.text)
            metas.append(_chunk_meta(job, chunk, seq))
        index.write(ids, vectors, docs, metas)
        self.report.chunks += len(batch)
        self._finish_closed()
        if self.on_progress is not None:  # a big file moves the chunk count along while it is read
            last = self._last
            self.on_progress(
                Progress(
                    last.files_done,
                    last.files_total,
                    last.bytes_done,
                    last.bytes_total,
                    self.report.chunks,
                    time.perf_counter() - self._started,
                    last.current,
                )
            )

    def _ensure_index(self, dimension: int) -> Index:
        if self.index is None:
            self.index = self.store.open(self.collection, self.embedder.name, create=True, dimension=dimension)
            assert self.index is not None
        return self.index

    def _finish_closed(self) -> None:
        """Files whose chunks are all written: drop their old versions, mark them done."""
        pending = {id(j) for j, _, _ in self._batch}
        ready = [j for j in self._open if j.closed and id(j) not in pending]
        if not ready:
            return
        if self.index is None:
            self._ensure_index(len(self.embedder.embed(["dimension probe"])[0]))
        assert self.index is not None
        for job in ready:
            if job.previous is not None:
                self.index.drop_stale(job.path, job.sha256, job.chunks)
        self.index.mark([FileRecord(j.path, j.sha256, j.chunks, j.chars, "done", time.time()) for j in ready])
        self._open = [j for j in self._open if j not in ready]

    def _abandon(self, job: _Job) -> None:
        self._batch = [item for item in self._batch if item[0] is not job]
        self._open = [j for j in self._open if j is not job]
        if self.index is not None and (job.marked or job.previous is not None):
            self.index.remove_file(job.path)

    def _remove_gone(self, paths: list[Path], manifest: dict[str, FileRecord], seen: set[str]) -> int:
        if self.index is None:
            return 0
        roots = [str(p.expanduser().resolve()) for p in paths]
        gone = [
            p for p in manifest
            if p not in seen and any(p == r or p.startswith(r.rstrip(os.sep) + os.sep) for r in roots)
        ]  # fmt: skip
        for path in gone:
            self.index.remove_file(path)
        return len(gone)

    def _progress(self, n: int, total: int, done: int, all_bytes: int, started: float, current: str) -> None:
        self._last = Progress(n, total, done, all_bytes, self.report.chunks, time.perf_counter() - started, current)
        if self.on_progress is not None:
            self.on_progress(self._last)


def _chunk_meta(job: _Job, chunk: Chunk, seq: int) -> dict[str, Any]:
    return {
        "path": job.path,
        "start_line": chunk.start_line,
        "end_line": chunk.end_line,
        "unit": "page" if job.path.lower().endswith(".pdf") else "line",
        "heading": chunk.heading[:200],
        "file_hash": job.sha256,
        "chunk_hash": hashlib.sha256(chunk.text.encode("utf-8", "surrogatepass")).hexdigest()[:16],
        "seq": seq,
    }


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
