"""assistant: a chat assistant with a tool-calling agent loop over any OpenAI-compatible endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Assistant", "__version__"]

if TYPE_CHECKING:
    from assistant.api import Assistant


def __getattr__(name: str) -> Any:  # lazy: `assistant --help` must not import the API stack
    if name == "Assistant":
        from assistant.api import Assistant

        return Assistant
    raise AttributeError(name)
