"""`assistant models` and `assistant serve`: the embedded local model."""

from __future__ import annotations

from typing import Annotated

import typer

from assistant.cli.common import user_errors

ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Local model name (see `assistant models`).")]


def models() -> None:
    """List the local models: size, state, and the endpoint in use."""
    with user_errors():
        from assistant.local.commands import print_models

        print_models()


def serve(
    model: ModelOpt = "qwen2.5-coder-0.5b",
    port: Annotated[int, typer.Option("--port", help="Port (default: a free one).")] = 0,
    background: Annotated[bool, typer.Option("--background", "-b", help="Detach; stop when idle.")] = False,
    idle_timeout: Annotated[
        float, typer.Option("--idle-timeout", help="Background: stop after this many idle seconds.")
    ] = 1800.0,
    stop: Annotated[bool, typer.Option("--stop", help="Stop the server `assistant serve` started.")] = False,
    print_key: Annotated[
        bool, typer.Option("--print-key", help="Print the served model's key (for other clients), nothing else.")
    ] = False,
) -> None:
    """Keep a local llama-server up for other clients; later commands reuse it.

    The server needs its key (Authorization: Bearer KEY): OPENAI_API_KEY=$(assistant serve --print-key).
    """
    with user_errors():
        from assistant.local.commands import run_serve_command

        raise typer.Exit(run_serve_command(model, port, background, idle_timeout, stop, print_key))
