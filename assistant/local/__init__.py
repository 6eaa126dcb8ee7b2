"""The embedded default model: registry, verified GGUF assembly, and the llama-server lifecycle.

Names are loaded lazily, so ``import assistant.local`` stays cheap::

    from assistant.local import open_local_server
    async with open_local_server() as srv:   # reuses `assistant serve` if it is running
        client = openai.AsyncOpenAI(base_url=srv.base_url, api_key=srv.api_key)  # its own key
        ...  # model=srv.model
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DEFAULT_MODEL": "models",
    "MODELS": "models",
    "ModelSpec": "models",
    "ModelStatus": "models",
    "model_state": "models",
    "model_status": "models",
    "ensure_model_file": "models",
    "data_dir": "models",
    "LocalServer": "server",
    "find_running_server": "server",
    "open_local_server": "server",
    "llama_server_binary": "server",
    "run_serve": "serve",
    "stop_served": "serve",
    "status": "serve",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
