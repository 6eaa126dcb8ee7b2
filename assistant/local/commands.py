"""What `assistant models` and `assistant serve` print: the CLI side of assistant.local."""

from __future__ import annotations

from typing import Any

import typer

from assistant.local.models import DEFAULT_MODEL, MODELS, model_status


def _size(n: int) -> str:
    return f"{n / 1e6:,.0f} MB" if n < 1e9 else f"{n / 1e9:.2f} GB"


def print_models() -> None:
    from assistant.config import load_settings
    from assistant.local.serve import status

    settings = load_settings()
    served = {s.model: s for s in status()}
    typer.echo(f"{'model':22} {'size':>9}  {'state':14} detail")
    for name, spec in MODELS.items():
        st = model_status(name)
        mark = "*" if name == settings.local_model else " "
        typer.echo(f"{mark}{name:21} {_size(spec.size):>9}  {st.state:14} {st.detail}")
        srv = served.get(name)
        if srv is not None:
            health = "healthy" if srv.healthy else "NOT responding"
            key = "key-protected" if srv.protected else "NOT key-protected: any local program or web page can use it"
            typer.echo(f"{'':34} served at {srv.base_url} (pid {srv.pid}, {health}, {key})")
    typer.echo("")
    if settings.is_local:
        where = "a served local model" if settings.local_model in served else "started per command"
        typer.echo(f"Endpoint in use: local model {settings.local_model} ({where}); * marks it.")
    else:
        typer.echo(f"Endpoint in use: {settings.base_url} (model {settings.model or 'first listed'})")
    for line in _profile_lines(settings):
        typer.echo(line)


def _profile_lines(settings: Any) -> list[str]:
    """How tools would be asked for (the model profile), probing a remote endpoint once (cached)."""
    import asyncio

    from assistant.profile import build_profile, llama_server_capabilities, probe

    if settings.is_local:
        model = settings.local_model
        caps = llama_server_capabilities("(local llama-server)", model, settings.context_size)
    else:
        caps = asyncio.run(probe(settings.base_url, settings.api_key))
        model = settings.model or (caps.models[0] if caps.models else "?")
    profile = build_profile(model, caps, tool_calls=settings.tool_calls, text_tool_calls=settings.text_tool_calls,
                            local=settings.is_local)  # fmt: skip
    return ["Model profile:", *("  " + line for line in profile.lines()[2:])]


def run_serve_command(
    model: str, port: int, background: bool, idle_timeout: float, stop: bool, print_key: bool = False
) -> int:
    from assistant.local.serve import run_serve, served_key, stop_served

    if print_key:  # for other clients: OPENAI_API_KEY=$(assistant serve --print-key)
        key = served_key(model)
        if key is None:
            typer.echo(f"No key-protected served {model} is running (start one: assistant serve -b).", err=True)
            return 1
        typer.echo(key)
        return 0
    if stop:
        stopped = stop_served(None if model == DEFAULT_MODEL else model)
        typer.echo("Stopped the served local model." if stopped else "No served local model was running.")
        return 0
    return run_serve(
        model,
        port=port or None,
        background=background,
        idle_timeout=idle_timeout if background else None,
        echo=typer.echo,
    )
