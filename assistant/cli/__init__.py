"""The `assistant` command. Heavy imports happen inside commands, so `--help` stays fast."""

from __future__ import annotations

import sys

import typer

from assistant.cli import ask as ask_cmd
from assistant.cli import chat as chat_cmd
from assistant.cli import evals as evals_cmd
from assistant.cli import history_cmd, index_cmd, trace_cmd
from assistant.cli import local as local_cmd
from assistant.cli import tools as tools_cmd

app = typer.Typer(
    name="assistant",
    help="A chat assistant that calls tools and shows how it works. With no command: chat.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback(invoke_without_command=True)
def _root(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        ctx.invoke(chat_cmd.chat)


app.command("chat")(chat_cmd.chat)
app.command("ask")(ask_cmd.ask)
app.command("models")(local_cmd.models)
app.command("serve")(local_cmd.serve)
app.add_typer(history_cmd.app, name="history")
app.add_typer(trace_cmd.app, name="trace")
app.add_typer(evals_cmd.app, name="eval")
app.add_typer(tools_cmd.app, name="tools")
app.add_typer(index_cmd.app, name="index")


def main() -> None:
    """The `assistant` command (the process entry point; tests drive ``app`` instead)."""
    code: object = 0
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("\nInterrupted.\n")
        code = 130
    except SystemExit as exc:
        code = exc.code
    exit_now(code)


def exit_now(code: object) -> None:
    """Leave without the interpreter's teardown (a few hundred ms of module and object cleanup).

    Everything that matters is already closed when a command returns: servers we started were
    stopped by their context managers (any left over are stopped here first), the history is
    committed and closed, output is flushed below. With non-daemon threads still running, exit normally.
    """
    import os
    import threading

    if isinstance(code, str):
        sys.stderr.write(code + "\n")
        code = 1
    status = code if isinstance(code, int) else (0 if code is None else 1)
    local = sys.modules.get("assistant.local.server")
    if local is not None:
        local._stop_all_at_exit()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError, OSError):
        pass
    main = threading.main_thread()
    if any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate()):
        sys.exit(status)
    os._exit(status)
