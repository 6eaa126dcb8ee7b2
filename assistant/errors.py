"""One base exception, specific subclasses: nothing from a vendor SDK reaches the user."""

from __future__ import annotations


class AssistantError(Exception):
    """Base of every error this package raises on purpose.

    ``str(err)`` is one readable line meant for the user; ``hint`` is an
    optional second sentence on what to check.
    """

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(f"{message} {hint}".strip())
        self.message = message
        self.hint = hint

    def user_line(self) -> str:
        return f"{self.message} {self.hint}".strip()


class ConfigError(AssistantError):
    """A config file or setting that cannot be used."""


class EndpointError(AssistantError):
    """Anything that went wrong talking to the model endpoint."""


class EndpointUnreachable(EndpointError):
    """Could not connect (refused, DNS, timeout before any reply)."""


class AuthenticationFailed(EndpointError):
    """401/403 from the endpoint."""


class ModelNotFound(EndpointError):
    """The endpoint does not serve the requested model."""

    def __init__(self, message: str, *, available: list[str] | None = None, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.available = available or []


class BadResponse(EndpointError):
    """The endpoint replied with something that is not the OpenAI protocol (HTML, bad JSON...)."""


class RateLimited(EndpointError):
    """429 after all retries."""


class ServerError(EndpointError):
    """5xx after all retries, or another HTTP error status."""


class StreamInterrupted(EndpointError):
    """The stream broke after it had started; partial output is kept."""


class MaxStepsExceeded(AssistantError):
    """The agent loop hit its step limit while the model still asked for tools."""


class ToolError(AssistantError):
    """A tool could not be registered or called."""


class LocalModelError(AssistantError):
    """The embedded local model or llama-server could not be prepared or started."""


class Cancelled(AssistantError):
    """The user interrupted a turn (Ctrl-C)."""
