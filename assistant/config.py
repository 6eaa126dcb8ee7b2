"""Settings: flags > environment > config file (TOML, XDG config dir, named profiles) > defaults.

Config file (``$XDG_CONFIG_HOME/assistant/config.toml``, or ``ASSISTANT_CONFIG``)::

    profile = "ollama"            # which profile to use when none is asked for

    [defaults]                    # applies to every profile
    max_steps = 8

    [profiles.ollama]
    base_url = "http://127.0.0.1:11434/v1"
    model = "qwen2.5-coder:1.5b"

    [profiles.openai]
    base_url = "https://api.openai.com/v1"
    model = "gpt-4o-mini"
    api_key_env = "OPENAI_API_KEY"   # read the key from this variable

No base_url anywhere means the embedded local model (llama-server started for you).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError

DEFAULT_LOCAL_MODEL = "qwen2.5-coder-0.5b"


@dataclass(frozen=True)
class Settings:
    base_url: str | None = None  # None: the embedded local model
    model: str | None = None  # None with a remote endpoint: the first model it lists
    api_key: str | None = None
    api_key_env: str | None = None
    local_model: str = DEFAULT_LOCAL_MODEL
    context_size: int = 8192
    text_tool_calls: bool | None = None  # None: on for the local model, off elsewhere
    tool_calls: str = "auto"  # auto | native | grammar | text (see assistant/profile.py)
    max_steps: int = 8
    temperature: float | None = None
    max_tokens: int | None = None
    logprobs: int | None = None  # alternatives per token for /tokens; None: 5 for the local model, else off
    timeout: float = 600.0
    connect_timeout: float = 10.0
    max_retries: int = 2
    tool_timeout: float = 120.0
    # Retrieval (assistant/retrieval/): "auto" searches the index every turn, "tool" offers a
    # search_index tool instead, "off" neither. No retrieval_url: the local store in the data dir.
    retrieval: str = "auto"
    retrieval_url: str | None = None  # a Chroma server, e.g. http://127.0.0.1:8000
    retrieval_store: str | None = None  # the local store's folder (no retrieval_url); None: <data dir>/chroma
    collection: str | None = None  # None: one per workspace (git root or current directory)
    embedder: str = "minilm"  # minilm (offline) | openai:MODEL | hash
    embedding_url: str | None = None  # /v1 URL of the embeddings endpoint (openai:MODEL); default base_url
    retrieval_top_k: int = 5
    retrieval_share: float = 0.25  # at most this share of the prompt budget for passages
    retrieval_max_distance: float | None = None  # cosine distance cutoff per turn; None: the embedder's default
    # Compaction (assistant/compaction.py): summarise earlier turns when a request would pass this
    # share of the context window; "off": drop the oldest turns instead.
    compact_at: float | str = 0.8
    profile: str | None = None
    sources: dict[str, str] = field(default_factory=dict, compare=False)  # key -> where it came from

    @property
    def is_local(self) -> bool:
        return self.base_url is None

    @property
    def recognise_text_calls(self) -> bool:
        return self.is_local if self.text_tool_calls is None else self.text_tool_calls


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "base_url": (str,),
    "model": (str,),
    "api_key": (str,),
    "api_key_env": (str,),
    "local_model": (str,),
    "context_size": (int,),
    "text_tool_calls": (bool,),
    "tool_calls": (str,),
    "max_steps": (int,),
    "temperature": (float, int),
    "max_tokens": (int,),
    "logprobs": (int,),
    "timeout": (float, int),
    "connect_timeout": (float, int),
    "max_retries": (int,),
    "tool_timeout": (float, int),
    "retrieval": (str,),
    "retrieval_url": (str,),
    "retrieval_store": (str,),
    "collection": (str,),
    "embedder": (str,),
    "embedding_url": (str,),
    "retrieval_top_k": (int,),
    "retrieval_share": (float, int),
    "retrieval_max_distance": (float, int),
    "compact_at": (float, int, str),
}
RETRIEVAL_MODES = ("auto", "tool", "off")


def config_path() -> Path:
    explicit = os.environ.get("ASSISTANT_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "assistant" / "config.toml"


def _check_values(table: dict[str, Any], where: str, path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        types = _FIELD_TYPES.get(key)
        if types is None:
            known = ", ".join(sorted(_FIELD_TYPES))
            raise ConfigError(f"{path}: unknown setting '{key}' in {where}.", hint=f"Known settings: {known}.")
        if isinstance(value, bool) and bool not in types:
            types = ()
        if not isinstance(value, types):
            want = " or ".join(t.__name__ for t in types) or "a number"
            raise ConfigError(f"{path}: '{key}' in {where} must be {want}, not {type(value).__name__}.")
        out[key] = float(value) if float in types and isinstance(value, int | float) else value
    return out


def load_config_file(path: Path | None = None) -> dict[str, Any]:
    """Parse the config file; a missing file is an empty config, a broken one a ConfigError."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc}.") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {path} is not valid TOML: {exc}.") from None
    allowed = {"profile", "defaults", "profiles"}
    for key in data:
        if key not in allowed:
            raise ConfigError(
                f"{path}: unknown top-level key '{key}'.",
                hint='Use [defaults], [profiles.NAME] and profile = "NAME".',
            )
    return data


def _profile_table(data: dict[str, Any], name: str | None, path: Path) -> dict[str, Any]:
    table: dict[str, Any] = {}
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ConfigError(f"{path}: [defaults] must be a table.")
    table.update(_check_values(defaults, "[defaults]", path))
    if name is None:
        return table
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict) or name not in profiles:
        names = ", ".join(sorted(profiles)) if isinstance(profiles, dict) and profiles else "none"
        raise ConfigError(f"Profile '{name}' is not in {path}.", hint=f"Profiles defined: {names}.")
    prof = profiles[name]
    if not isinstance(prof, dict):
        raise ConfigError(f"{path}: [profiles.{name}] must be a table.")
    table.update(_check_values(prof, f"[profiles.{name}]", path))
    return table


def _env_values(env: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for var, key in (
        ("OPENAI_BASE_URL", "base_url"),
        ("ASSISTANT_BASE_URL", "base_url"),
        ("OPENAI_API_KEY", "api_key"),
        ("ASSISTANT_MODEL", "model"),
        ("ASSISTANT_LOCAL_MODEL", "local_model"),
        ("ASSISTANT_RETRIEVAL_URL", "retrieval_url"),
        ("ASSISTANT_TOOL_CALLS", "tool_calls"),
        ("ASSISTANT_COLLECTION", "collection"),
        ("ASSISTANT_EMBEDDER", "embedder"),
        ("ASSISTANT_COMPACT_AT", "compact_at"),
    ):
        if env.get(var):
            out[key] = env[var]
    if env.get("ASSISTANT_MAX_STEPS"):
        try:
            out["max_steps"] = int(env["ASSISTANT_MAX_STEPS"])
        except ValueError:
            raise ConfigError("ASSISTANT_MAX_STEPS must be a whole number.") from None
    return out


def load_settings(
    flags: dict[str, Any] | None = None,
    *,
    env: dict[str, str] | None = None,
    path: Path | None = None,
) -> Settings:
    """Merge flags > environment > config file profile > [defaults] > built-in defaults."""
    env = dict(os.environ) if env is None else env
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    path = path or config_path()
    data = load_config_file(path)
    profile = flags.pop("profile", None) or env.get("ASSISTANT_PROFILE") or data.get("profile")
    if profile is not None and not isinstance(profile, str):
        raise ConfigError(f"{path}: 'profile' must be a string.")
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for layer, origin in (
        (_profile_table(data, profile, path), f"config {path}" + (f" [{profile}]" if profile else "")),
        (_env_values(env), "environment"),
        (flags, "flag"),
    ):
        for key, value in layer.items():
            merged[key] = value
            sources[key] = origin
    known = {f.name for f in fields(Settings)}
    unknown = set(merged) - known
    if unknown:
        raise ConfigError(f"Unknown settings: {', '.join(sorted(unknown))}.")
    settings = replace(Settings(), **merged, profile=profile, sources=sources)
    if settings.api_key is None and settings.api_key_env:
        settings = replace(settings, api_key=env.get(settings.api_key_env))
    if settings.max_steps < 1:
        raise ConfigError("max_steps must be at least 1.")
    _check_retrieval(settings)
    from assistant.compaction import compact_threshold

    compact_threshold(settings.compact_at)  # refused here, before anything starts
    return settings


def _check_retrieval(s: Settings) -> None:
    if s.tool_calls not in ("auto", "native", "grammar", "text"):
        raise ConfigError(f"tool_calls must be one of auto, native, grammar, text, not '{s.tool_calls}'.")
    if s.retrieval not in RETRIEVAL_MODES:
        raise ConfigError(f"retrieval must be one of {', '.join(RETRIEVAL_MODES)}, not '{s.retrieval}'.")
    if s.retrieval_top_k < 1:
        raise ConfigError("retrieval_top_k must be at least 1.")
    if not 0 < s.retrieval_share <= 0.9:
        raise ConfigError("retrieval_share must be above 0 and at most 0.9 (a share of the prompt budget).")
    if s.retrieval_max_distance is not None and not 0 < s.retrieval_max_distance <= 2:
        raise ConfigError("retrieval_max_distance must be above 0 and at most 2 (cosine distance).")
