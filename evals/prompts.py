"""Prompt templates (evals/templates/*.toml, *.md): plain files, so what the model sees is easy to read."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

from assistant.errors import AssistantError

DEFAULT_TEMPLATE = "qwen"


class TemplateError(AssistantError):
    """An unknown or malformed prompt template."""


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    user: str
    system: str | None = None
    prefill: str = ""
    stop: tuple[str, ...] = ()
    max_tokens: int = 512
    strip_prompt: bool = False

    def messages(self, prompt: str) -> list[dict[str, Any]]:
        """The exact messages of one request (a prefill is a trailing assistant message)."""
        body = prompt.strip() if self.strip_prompt else prompt
        messages: list[dict[str, Any]] = []
        if self.system:
            messages.append({"role": "system", "content": self.system})
        messages.append({"role": "user", "content": self.user.replace("{prompt}", body)})
        if self.prefill:
            messages.append({"role": "assistant", "content": self.prefill})
        return messages

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stop"] = list(self.stop)
        return data


def _templates_dir() -> Any:
    return resources.files(__package__ or "assistant.evals").joinpath("templates")


def load_templates() -> dict[str, Template]:
    raw = _templates_dir().joinpath("humaneval.toml").read_text(encoding="utf-8")
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"evals/templates/humaneval.toml is not valid TOML: {exc}.") from None
    out: dict[str, Template] = {}
    for name, table in data.items():
        try:
            out[name] = Template(
                name=name,
                description=str(table.get("description", "")),
                user=str(table["user"]),
                system=table.get("system"),
                prefill=str(table.get("prefill", "")),
                stop=tuple(table.get("stop", ())),
                max_tokens=int(table.get("max_tokens", 512)),
                strip_prompt=bool(table.get("strip_prompt", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise TemplateError(f"Template [{name}] in humaneval.toml is malformed: {exc}.") from None
    return out


def get_template(name: str) -> Template:
    templates = load_templates()
    if name not in templates:
        raise TemplateError(f"No prompt template '{name}'.", hint=f"Templates: {', '.join(templates)}.")
    return templates[name]


def agent_system_prompt() -> str:
    return str(_templates_dir().joinpath("agent.md").read_text(encoding="utf-8")).strip()
