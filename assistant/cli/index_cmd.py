"""`assistant index PATH…`, `index status`, `index search`, `index rm`: the retrieval store."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from assistant.cli.common import fail, short, user_errors

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.retrieval.indexer import IndexReport, Progress


class _PathsByDefault(TyperGroup):
    """`assistant index docs/` means `assistant index add docs/`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["add", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_PathsByDefault,
    help="The retrieval index: `assistant index PATH…` adds files (again: only what changed); status, search, rm.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

Collection = Annotated[
    str | None, typer.Option("--collection", "-C", help="Collection name (default: one per workspace).")
]
Embedder = Annotated[str | None, typer.Option("--embedder", help="minilm (offline, default), openai:MODEL, or hash.")]
RetrievalUrl = Annotated[
    str | None, typer.Option("--retrieval-url", help="A Chroma server (default: the local store in the data dir).")
]


def _settings(collection: str | None, embedder: str | None, retrieval_url: str | None) -> Settings:
    from assistant.cli.common import settings_flags
    from assistant.config import load_settings

    return load_settings(settings_flags(collection=collection, embedder=embedder, retrieval_url=retrieval_url))


def _collection(settings: Settings) -> str:
    from assistant.retrieval.store import check_name, default_collection

    return check_name(settings.collection or default_collection())


@app.command("add")
def add(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders to index.")],
    collection: Collection = None,
    embedder: Embedder = None,
    retrieval_url: RetrievalUrl = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List skipped files and why.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Index files and folders: text, Markdown, reST, source code, PDF. Unchanged files are skipped."""
    with user_errors():
        from assistant.retrieval.embedders import make_embedder
        from assistant.retrieval.indexer import Indexer
        from assistant.retrieval.store import open_store

        settings = _settings(collection, embedder, retrieval_url)
        name = _collection(settings)
        emb = make_embedder(
            settings.embedder,
            base_url=settings.embedding_url or settings.base_url,
            api_key=None if settings.embedding_url else settings.api_key,
        )
        store = open_store(settings)
        show = _ProgressView(enabled=not quiet and sys.stderr.isatty())
        try:
            with show:
                report = Indexer(store, name, emb, on_progress=show.update).run(paths)
        except KeyboardInterrupt:
            sys.stderr.write("\ninterrupted: what was written is kept; run the same command again to finish.\n")
            raise typer.Exit(130) from None
        _print_report(report, store.where, verbose)


class _ProgressView:
    """A rich progress bar on stderr: bytes read, files, chunks and chunks/s."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.progress: Any = None
        self.task: Any = None

    def __enter__(self) -> _ProgressView:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("indexing"), BarColumn(), TextColumn("{task.fields[files]}"),
                TextColumn("{task.fields[chunks]}"), TimeElapsedColumn(), TextColumn("{task.fields[current]}"),
                console=Console(stderr=True), transient=True,
            )  # fmt: skip
            self.progress.start()
            self.task = self.progress.add_task("index", total=None, files="", chunks="", current="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def update(self, p: Progress) -> None:
        if self.progress is None:
            return
        rate = p.chunks / p.seconds if p.seconds > 0 else 0.0
        self.progress.update(
            self.task, total=max(p.bytes_total, 1), completed=p.bytes_done,
            files=f"{p.files_done:,}/{p.files_total:,} files", chunks=f"{p.chunks:,} chunks ({rate:,.0f}/s)",
            current=short(Path(p.current).name, 40),
        )  # fmt: skip


def _print_report(r: IndexReport, where: str, verbose: bool) -> None:
    embed_share = f", {100 * r.embed_seconds / r.seconds:.0f}% of it embedding" if r.seconds and r.chunks else ""
    typer.echo(
        f"Indexed {r.files:,} file{'s' if r.files != 1 else ''} into {r.collection} ({r.embedder}, {where}): "
        f"{r.new} new, {r.changed} changed, {r.resumed} resumed, {r.unchanged} unchanged, {r.removed} removed; "
        f"{r.chunks:,} chunks written in {r.seconds:.1f} s ({r.chunks_per_second:,.1f} chunks/s{embed_share})."
    )
    if r.skipped:
        counts = ", ".join(f"{n} {reason}" for reason, n in sorted(r.skip_counts().items()))
        typer.echo(f"Skipped {len(r.skipped)}: {counts}" + ("" if verbose else " (-v lists them)."))
        if verbose:
            for path, reason in r.skipped:
                typer.echo(f"  {path}: {reason}")
    for path, note in r.notes:
        typer.echo(f"Note: {path}: {note}")


@app.command("status")
def status(
    collection: Annotated[str | None, typer.Argument(help="Only this collection.")] = None,
    retrieval_url: RetrievalUrl = None,
) -> None:
    """Collections in the store: files, chunks, embedder, size; * marks this workspace's."""
    with user_errors():
        from assistant.retrieval.store import local_store_exists, open_store

        settings = _settings(None, None, retrieval_url)
        mine = _collection(settings)
        if settings.retrieval_url is None and not local_store_exists(settings):
            typer.echo(f"No index yet. `assistant index PATH…` builds one (collection {mine}).")
            return
        store = open_store(settings)
        names = store.names()
        if collection:
            if collection not in names:
                raise fail(f"no collection '{collection}' in {store.where}.")
            names = [collection]
        disk = store.disk_bytes()
        size = f", {disk / 1e6:,.1f} MB on disk" if disk is not None else ""
        typer.echo(f"store: {store.where}{size}")
        if not names:
            typer.echo(f"No collections. `assistant index PATH…` builds one (collection {mine}).")
            return
        typer.echo(f"  {'collection':32} {'embedder':28} {'files':>7} {'chunks':>8} {'text MB':>8}")
        for name in names:
            info = store.info(name)
            mark = "*" if name == mine else " "
            pending = f"  ({info.pending} interrupted: index again to finish)" if info.pending else ""
            typer.echo(
                f"{mark} {name:32} {info.embedder:28} {info.files:>7,} {info.chunks:>8,} "
                f"{info.chars / 1e6:>8.2f}{pending}"
            )


@app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", help="How many passages.")] = 5,
    collection: Collection = None,
    embedder: Embedder = None,
    retrieval_url: RetrievalUrl = None,
) -> None:
    """Search the index the way the chat does, and show the passages with their distances."""
    with user_errors():
        from assistant.retrieval import open_retriever

        settings = _settings(collection, embedder, retrieval_url)
        started = time.perf_counter()
        setup = open_retriever(settings)
        if setup.retriever is None:
            raise fail(f"no retrieval: {setup.status}")
        found = setup.retriever.search(query, k)
        for n, p in enumerate(found, start=1):
            heading = f"  ({p.heading})" if p.heading else ""
            typer.echo(f"[{n}] {p.location()}  distance {p.distance:.3f}{heading}")
            typer.echo("    " + short(p.text, 300))
        typer.echo(f"({len(found)} passages from {setup.retriever.collection}, {time.perf_counter() - started:.1f} s)")


@app.command("rm")
def rm(
    collections: Annotated[list[str] | None, typer.Argument(help="Collections (default: this workspace's).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every collection; a corrupt local store is deleted.")] = False,
    retrieval_url: RetrievalUrl = None,
) -> None:
    """Remove collections (the files themselves are untouched)."""
    with user_errors():
        settings = _settings(None, None, retrieval_url)
        if all_ and settings.retrieval_url is None:
            _remove_local_store(settings)
            return
        from assistant.retrieval.store import open_store

        store = open_store(settings)
        names = store.names() if all_ else (collections or [_collection(settings)])
        for name in names:
            removed = store.remove(name)
            typer.echo(f"{'Removed' if removed else 'No collection'} {name}.")


def _remove_local_store(settings: Any) -> None:
    import shutil

    from assistant.retrieval.store import store_dir

    path = store_dir(settings)
    if not path.exists():
        typer.echo("No local store.")
        return
    shutil.rmtree(path)
    typer.echo(f"Removed the local store {path}.")
