"""`assistant history list/show/rm`: the conversations stored in SQLite."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from assistant.cli.common import fail, user_errors
from assistant.termsafe import visible

app = typer.Typer(help="Stored conversations: list, show, rm.", no_args_is_help=True, rich_markup_mode=None)


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


@app.command("list")
def list_(limit: Annotated[int, typer.Option("--limit", "-n")] = 30) -> None:
    """Conversations, newest first."""
    with user_errors():
        from assistant.history import History

        with History() as store:
            rows = store.conversations(limit)
        if not rows:
            typer.echo("No conversations yet.")
            return
        typer.echo(f"{'id':12}  {'updated':16}  {'msgs':>4}  title")
        for c in rows:
            title = visible(c.title or "(untitled)", one_line=True)
            typer.echo(f"{c.id:12}  {_when(c.updated_at):16}  {c.messages:>4}  {title}")


@app.command("show")
def show(conversation: Annotated[str, typer.Argument(help="Id (or a unique prefix).")]) -> None:
    """Every message of one conversation, tool calls and results included."""
    with user_errors():
        from assistant.history import History

        with History() as store:
            cid = store.resolve(conversation)
            messages = store.messages(cid)
        for seq, m in messages:
            mark = "" if m.status == "complete" else f" [{m.status}]"
            typer.echo(f"--- {seq} {visible(m.role, one_line=True)}{mark}")
            if m.content:
                typer.echo(visible(m.content))
            for call in m.tool_calls:
                typer.echo(visible(f"→ {call.name}({call.arguments})"))


@app.command("rm")
def rm(conversation: Annotated[list[str], typer.Argument(help="Ids (or unique prefixes).")]) -> None:
    """Delete conversations."""
    with user_errors():
        from assistant.history import History

        with History() as store:
            ids = [store.resolve(c) for c in conversation]
            for cid in ids:
                store.delete(cid)
        typer.echo(f"Deleted {len(ids)} conversation{'s' if len(ids) != 1 else ''}.")
    if not conversation:
        raise fail("name a conversation to delete", code=2)
