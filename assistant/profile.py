"""One model profile, decided once: how this model at this endpoint is asked for tools.

A model's quirks live here, not in flags spread through the loop. ``Capabilities`` is what the
endpoint can do, found by a probe (llama-server's ``/props`` and ``/v1/models``) and cached on disk
per endpoint, or known outright for the llama-server this program starts. ``ModelProfile`` is
the decision made from the capabilities plus the settings:

``tool_calls``
    ``native``: tools go in the request's ``tools`` field and the model answers with ``tool_calls``
    (hosted models, capable local ones). ``grammar``: each step is decoded under a grammar built
    from the offered tools (assistant/grammar.py): the model writes ``answer`` or one tool name
    followed by arguments that satisfy that tool's schema, so a call cannot be malformed; the
    answer itself is then streamed as plain text. Tool descriptions go in the system prompt in a
    compact form (the endpoint refuses a grammar together with ``tools``). ``text``: ``tools`` are
    sent, and calls the model writes as JSON text are recognised (assistant/textcalls.py).
``fold_results``
    Tool results are shown inside the user's turn (small models repeat a call shown as their own).
``logprobs_with_tools``
    Whether the endpoint sends logprobs on requests that offer tools.

Every degradation (a capability missing, a constraint the endpoint refused) is a line in
``notes``, shown by ``assistant models``, ``/model`` and ``ask --json``; nothing degrades silently.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

TOOL_CALL_MODES = ("auto", "native", "grammar", "text")
CACHE_SECONDS = 24 * 3600
# Grammar mode calls a tool when the model's probability of starting a call is at least this
# (measured on the labelled requests of benchmarks/tooluse/, see benchmarks/bench_tooluse.py).
DEFAULT_CALL_THRESHOLD = 0.15
PROBE_TIMEOUT = 3.0

# Model families known to answer tool requests with JSON text instead of native tool_calls
# (measured on Qwen2.5-Coder 0.5B and 1.5B under llama-server --jinja).
SMALL_TEXT_CALLERS = ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "qwen2.5-coder:0.5b", "qwen2.5-coder:1.5b")


@dataclass(frozen=True)
class Capabilities:
    base_url: str
    server: str = "unknown"  # "llama.cpp" or "unknown" (any other OpenAI-compatible server)
    build: str = ""
    models: tuple[str, ...] = ()
    context_window: int | None = None
    grammar: bool = False  # per-request GBNF `grammar` field
    json_schema: bool = False  # per-request `json_schema` / response_format json_schema
    tokenize: bool = False  # POST /tokenize
    prompt_cache: bool = False  # cache_prompt / slot reuse
    logprobs_with_tools: bool = True
    template_tool_calls: bool | None = None  # the chat template knows tool calls (llama.cpp /props)
    vision: bool | None = None  # takes images (llama.cpp /props modalities.vision); None: unknown
    probed_at: float = 0.0
    source: str = "probe"  # probe | cache | known | none

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["models"] = list(self.models)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Capabilities:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["models"] = tuple(known.get("models") or ())
        return cls(**known)


def llama_server_capabilities(base_url: str, model: str, context_window: int | None) -> Capabilities:
    """What the llama-server this program builds and starts can do (no probe needed)."""
    return Capabilities(
        base_url, "llama.cpp", "", (model,), context_window, grammar=True, json_schema=True, tokenize=True,
        prompt_cache=True, logprobs_with_tools=False, template_tool_calls=True, probed_at=time.time(),
        source="known", vision=False,  # started without a multimodal projector (--mmproj)
    )  # fmt: skip


def _root_url(base_url: str) -> str:
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def _cache_file() -> Path:
    from assistant.paths import data_dir

    return data_dir() / "endpoint-capabilities.json"


def _read_cache() -> dict[str, Any]:
    try:
        data = json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(caps: Capabilities) -> None:
    path = _cache_file()
    data = _read_cache()
    data[caps.base_url] = caps.to_dict()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(path)
    except OSError:
        pass  # a cache that cannot be written only costs a probe next time


async def probe(base_url: str, api_key: str | None = None, *, use_cache: bool = True,
                wait: float = PROBE_TIMEOUT) -> Capabilities:  # fmt: skip
    """The endpoint's capabilities: from the cache when fresh, else GET /props and /v1/models."""
    if use_cache:
        cached = _read_cache().get(base_url)
        if isinstance(cached, dict) and time.time() - float(cached.get("probed_at", 0)) < CACHE_SECONDS:
            try:
                return replace(Capabilities.from_dict(cached), source="cache")
            except (TypeError, ValueError):
                pass
    caps = await _probe_now(base_url, api_key, wait)
    if caps.source == "probe":
        _write_cache(caps)
    return caps


async def _probe_now(base_url: str, api_key: str | None, wait: float) -> Capabilities:
    import asyncio

    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with httpx.AsyncClient(timeout=wait, headers=headers) as client:
        props_r, models_r = await asyncio.gather(
            client.get(_root_url(base_url) + "/props"), client.get(base_url.rstrip("/") + "/models"),
            return_exceptions=True,
        )  # fmt: skip
    models: tuple[str, ...] = ()
    if isinstance(models_r, httpx.Response) and models_r.status_code == 200:
        try:
            models = tuple(str(m["id"]) for m in models_r.json().get("data", []) if "id" in m)
        except (ValueError, TypeError, KeyError, AttributeError):
            models = ()
    props = _json_or_none(props_r)
    if props is None or "default_generation_settings" not in props:
        reached = isinstance(models_r, httpx.Response)
        return Capabilities(base_url, models=models, probed_at=time.time(), source="probe" if reached else "none")
    settings = props.get("default_generation_settings") or {}
    caps = props.get("chat_template_caps") or {}
    n_ctx = settings.get("n_ctx") or props.get("n_ctx")
    modalities = props.get("modalities")
    vision = bool(modalities.get("vision")) if isinstance(modalities, dict) else None
    return Capabilities(
        base_url, "llama.cpp", str(props.get("build_info", "")), models, int(n_ctx) if n_ctx else None,
        grammar=True, json_schema=True, tokenize=True, prompt_cache=True, logprobs_with_tools=False,
        template_tool_calls=bool(caps.get("supports_tool_calls")) if caps else None, probed_at=time.time(),
        vision=vision,
    )  # fmt: skip


def _json_or_none(response: Any) -> dict[str, Any] | None:
    import httpx

    if not isinstance(response, httpx.Response) or response.status_code != 200:
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


@dataclass
class ModelProfile:
    model: str
    capabilities: Capabilities
    tool_calls: str = "native"  # native | grammar | text
    fold_results: bool = False
    compact_tools: bool = False
    logprobs_with_tools: bool = True
    call_threshold: float = DEFAULT_CALL_THRESHOLD  # grammar mode: p(first token starts a call) to call
    # the answers' temperature when the settings give none (None: the server's own default)
    temperature: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def text_tool_calls(self) -> bool:
        return self.tool_calls == "text"

    def degrade(self, note: str, *, tool_calls: str | None = None) -> None:
        """A capability turned out missing at run time: switch and say so (also for later turns)."""
        if tool_calls is not None:
            self.tool_calls = tool_calls
        if note not in self.notes:
            self.notes.append(note)

    def lines(self) -> list[str]:
        caps = self.capabilities
        constraints = (("grammar", caps.grammar), ("json_schema", caps.json_schema))
        how = {"native": "native tool_calls", "text": "recognised from JSON text in the answer",
               "grammar": "grammar-constrained (a call cannot be malformed)"}[self.tool_calls]  # fmt: skip
        out = [
            f"model: {self.model}",
            f"endpoint: {caps.base_url} ({caps.server}{', build ' + caps.build if caps.build else ''}; "
            f"capabilities {caps.source})",
            f"tool calls: {how}" + ("; results shown in the user's turn" if self.fold_results else ""),
            "constraints: " + (", ".join(n for n, ok in constraints if ok) or "none"),
            f"context window: {caps.context_window or 'unknown'}",
            images_line(caps),
        ]
        if self.temperature is not None:
            out.append(f"answers: temperature {self.temperature:g} unless the settings give one")
        if self.tool_calls == "grammar":
            out.append("decision: a turn's first step (answer, or which tool) is chosen by a classifier trained on "
                       "labelled requests, with the workspace's names; later steps by what the request still asks "
                       "for, else when the model's probability of starting a call is at least "
                       f"{self.call_threshold:g}")  # fmt: skip
        return out + [f"note: {n}" for n in self.notes]

    def to_dict(self) -> dict[str, Any]:
        from assistant.paths import redact_url

        caps = self.capabilities.to_dict()
        caps["base_url"] = redact_url(caps["base_url"])
        return {"model": self.model, "tool_calls": self.tool_calls, "fold_results": self.fold_results,
                "compact_tools": self.compact_tools, "logprobs_with_tools": self.logprobs_with_tools,
                "call_threshold": self.call_threshold, "images": images_word(self.capabilities.vision),
                "notes": list(self.notes), "capabilities": caps}  # fmt: skip


def images_word(vision: bool | None) -> str:
    return "unknown" if vision is None else ("yes" if vision else "no")


def images_line(caps: Capabilities) -> str:
    """Whether the model takes images, and how we know: the one line ``assistant models`` and ``/model``
    show. Unknown: images are sent and the endpoint decides (its error is shown in one line)."""
    if caps.source == "known":
        how = "the local llama-server runs without a vision projector (--mmproj)"
    elif caps.source == "none":
        how = "the endpoint could not be probed; images are sent and the endpoint decides"
    elif caps.vision is not None:
        how = f"the endpoint's /props says modalities.vision is {str(caps.vision).lower()}"
    elif caps.server == "llama.cpp":
        how = "this llama-server's /props has no modalities (an older build); images are sent and it decides"
    else:
        how = "the endpoint does not say; images are sent and the endpoint decides"
    return f"images: {images_word(caps.vision)} ({how})"


def is_small_text_caller(model: str) -> bool:
    name = model.lower()
    return any(name.startswith(p) or p in name for p in SMALL_TEXT_CALLERS)


# A small model's answers are greedy unless the settings say otherwise: nothing set a temperature, so
# they were sampled at llama-server's default (0.8), and the same question got different answers from
# one run to the next. Greedy, the same request gets the same answer; the facts measured barely moved
# (test11's answers 3 -> 5 of 23 with other changes; 45 grounded questions 24 -> 21 of 34 on the
# questions whose prompt did not change): the 0.5B's misreadings are its own, not the sampling's.
SMALL_MODEL_TEMPERATURE = 0.0


def build_profile(model: str, caps: Capabilities, *, tool_calls: str = "auto", text_tool_calls: bool | None = None,
                  local: bool = False) -> ModelProfile:  # fmt: skip
    """Decide once how to ask this model for tools (see the module docstring)."""
    if tool_calls not in TOOL_CALL_MODES:
        raise ValueError(f"tool_calls must be one of {', '.join(TOOL_CALL_MODES)}")
    small = local or is_small_text_caller(model)
    notes: list[str] = []
    mode = tool_calls
    if mode == "auto":
        if text_tool_calls is False:
            mode = "native"
        elif text_tool_calls is True:
            mode = "grammar" if caps.grammar else "text"
        else:
            mode = ("grammar" if caps.grammar else "text") if small else "native"
    if mode == "grammar" and not caps.grammar:
        notes.append(f"{caps.base_url} offers no grammar constraints: tool calls are recognised from text instead")
        mode = "text"
    if caps.source == "none":
        notes.append("the endpoint could not be probed: capabilities unknown, using defaults")
    profile = ModelProfile(
        model=model, capabilities=caps, tool_calls=mode, fold_results=small and mode != "native",
        compact_tools=mode == "grammar", logprobs_with_tools=caps.logprobs_with_tools, notes=notes,
        temperature=SMALL_MODEL_TEMPERATURE if small else None,
    )  # fmt: skip
    if not caps.logprobs_with_tools and mode != "grammar":
        profile.notes.append("no logprobs on requests that offer tools (/tokens works on answers without tools)")
    return profile
