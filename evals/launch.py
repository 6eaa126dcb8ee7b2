"""Set up a run: the endpoint (or the local model with enough slots), the run folder and its config.

``run_eval(EvalRequest(...))`` is what ``assistant eval run`` calls: it opens the target, writes
or checks config.json (a rerun with the same settings resumes; different settings are refused,
never mixed into one run), and drives the ``Runner``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.config import Settings

if TYPE_CHECKING:
    from assistant.profile import Capabilities, ModelProfile
from assistant.endpoint import Endpoint, EndpointConfig

from .prompts import Template, get_template
from .runner import ProgressFn, Runner, RunOptions
from .sandbox import Sandbox, eval_limits
from .store import RunError, RunStore
from .suites import Suite, load_suite

HARNESS_VERSION = 1
SLOT_CONTEXT = 4096  # tokens per llama-server slot: prompt + up to 2048 generated, agent turns
# Settings that define a run; resuming with any of them changed would mix two experiments.
IDENTITY = ("suite", "suite_sha256", "task_ids", "mode", "template", "model", "model_file_sha256",
            "samples", "params", "max_steps", "extract", "sandbox_limits", "retrieval", "time_limit",
            "server_args")  # fmt: skip
REPO_SLOT_CONTEXT = 8192  # repository tasks: tool schemas, file contents and several steps


def runs_dir() -> Path:
    from assistant.paths import data_dir

    return data_dir() / "evals" / "runs"


@dataclass
class EvalRequest:
    suite: str = "humaneval"
    mode: str = "direct"
    template: str = "qwen"
    task_ids: list[str] | None = None
    limit: int | None = None
    samples: int = 1
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    max_tokens: int | None = None
    max_steps: int | None = None  # agent mode: 6 for function suites, 12 for repository tasks
    time_limit: float = 300.0  # repository tasks: wall seconds per attempt
    retrieval: bool = False  # repository tasks: index the copy, passages in every turn
    server_args: tuple[str, ...] = ()  # extra llama-server flags (local model), e.g. --cache-type-k q8_0
    model_path: Path | None = None  # local model: this GGUF file instead of the registered one
    logprobs: bool = True  # direct mode: record the probability of every answer token (observation only)
    concurrency: int = 4
    threads: int | None = None  # llama-server threads (local model); None: its default (all cores)
    timeout: float = 10.0
    extract: str = "auto"
    sanitize: bool = True
    retries: int = 3
    retry_wait: float = 2.0
    max_consecutive_errors: int = 3
    out: Path | None = None
    name: str | None = None
    command: str = field(default_factory=lambda: " ".join(sys.argv))


@dataclass
class Target:
    endpoint: Endpoint
    model: str
    base_url: str
    info: dict[str, Any]
    profile: ModelProfile | None = None  # how the model is asked for tools: the same as the chat's
    pid: int | None = None  # our local llama-server's process (for its peak memory)
    model_file: Path | None = None
    api_key: str | None = None  # what the endpoint wants (our llama-server's own key); never recorded


def server_facts(target: Target) -> dict[str, Any]:
    """Peak resident memory of our llama-server so far, and the model file's size (local model only)."""
    facts: dict[str, Any] = {}
    if target.model_file is not None:
        facts["model_file_bytes"] = target.model_file.stat().st_size
    if target.pid is not None:
        try:
            status = Path(f"/proc/{target.pid}/status").read_text()
        except OSError:
            return facts
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                facts["peak_rss_mb"] = round(int(line.split()[1]) / 1024, 1)
    return facts


@contextlib.asynccontextmanager
async def open_target(
    settings: Settings,
    concurrency: int,
    threads: int | None = None,
    *,
    slot_context: int = SLOT_CONTEXT,
    server_args: tuple[str, ...] = (),
    model_path: Path | None = None,
) -> AsyncIterator[Target]:
    """The configured endpoint, or our own local llama-server with ``concurrency`` slots."""
    if settings.base_url is not None:
        from assistant.profile import probe

        endpoint = Endpoint(_endpoint_config(settings, settings.base_url, settings.model or ""))
        try:
            caps = await probe(settings.base_url, settings.api_key)
            model = settings.model or (list(caps.models) or await endpoint.list_models() or [""])[0]
            profile = _profile(settings, model, caps)
            endpoint.config = _endpoint_config(settings, settings.base_url, model, profile)
            yield Target(endpoint, model, settings.base_url, {"kind": "remote", "quantization": "unknown"}, profile,
                         api_key=settings.api_key)  # fmt: skip
        finally:
            await endpoint.aclose()
        return
    from assistant.local.models import get_model
    from assistant.local.server import open_local_server

    spec = get_model(settings.local_model)
    slots = max(1, concurrency)
    args = tuple(server_args)
    if model_path is not None:
        args += ("--model", str(model_path))  # llama-server takes the last --model given
    options: dict[str, Any] = {"parallel": slots, "threads": threads, "extra_args": args}
    async with open_local_server(spec.name, ctx=slot_context * slots, reuse=False, **options) as server:
        from assistant.profile import llama_server_capabilities

        caps = llama_server_capabilities(server.base_url, server.model, slot_context)
        profile = _profile(settings, server.model, caps)
        endpoint = Endpoint(_endpoint_config(settings, server.base_url, server.model, profile, server.api_key))
        info = {"kind": "local", "model": spec.display_name, "file_sha256": spec.sha256, "slots": slots,
                "threads": threads, "context_per_slot": slot_context, "server_args": list(server_args),
                "model_path": str(model_path) if model_path else None}  # fmt: skip
        if model_path is not None:
            info["file_sha256"] = _file_sha256(model_path)
        info.update(await _server_props(server.root_url, server.headers))
        try:
            yield Target(endpoint, server.model, server.base_url, info, profile, server.pid,
                         model_path or server.model_path, server.api_key)  # fmt: skip
        finally:
            await endpoint.aclose()


def _profile(settings: Settings, model: str, caps: Capabilities) -> ModelProfile:
    """The same profile decision as the chat's (assistant.api.Assistant)."""
    from assistant.profile import build_profile

    return build_profile(model, caps, tool_calls=settings.tool_calls, text_tool_calls=settings.text_tool_calls,
                         local=settings.is_local)  # fmt: skip


def _file_sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _endpoint_config(
    settings: Settings, base_url: str, model: str, profile: ModelProfile | None = None, api_key: str | None = None
) -> EndpointConfig:
    return EndpointConfig(
        base_url=base_url, model=model, api_key=api_key or settings.api_key, timeout=settings.timeout,
        connect_timeout=settings.connect_timeout, max_retries=settings.max_retries,
        text_tool_calls=profile.text_tool_calls if profile else settings.recognise_text_calls,
    )  # fmt: skip


async def _server_props(root_url: str, headers: dict[str, str]) -> dict[str, Any]:
    import httpx

    try:
        async with httpx.AsyncClient(timeout=5.0, headers=headers, trust_env=False) as client:
            props = (await client.get(f"{root_url}/props")).json()
    except (httpx.HTTPError, ValueError):
        return {}
    return {"quantization": props.get("model_ftype"), "server_build": props.get("build_info"),
            "server_slots": props.get("total_slots")}  # fmt: skip


def default_name(req: EvalRequest, model: str) -> str:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return re.sub(r"[^\w.-]+", "_", f"{Path(req.suite).name}-{req.mode}-{model}-{stamp}")


def sampling_params(req: EvalRequest, template: Template) -> dict[str, Any]:
    temperature = req.temperature if req.temperature is not None else (0.0 if req.samples == 1 else 0.8)
    params: dict[str, Any] = {"temperature": temperature, "max_tokens": req.max_tokens or template.max_tokens}
    if req.top_p is not None:
        params["top_p"] = req.top_p
    if req.seed is not None:
        params["seed"] = req.seed
    return params


def build_config(
    req: EvalRequest, suite: Suite, template: Template, target: Target, sandbox: Sandbox
) -> dict[str, Any]:
    return {
        "name": req.name, "harness_version": HARNESS_VERSION,
        "created": dt.datetime.now().isoformat(timespec="seconds"),
        "command": req.command, "suite": suite.name, "suite_source": suite.source, "suite_sha256": suite.sha256,
        "task_ids": [t.task_id for t in suite.tasks], "mode": req.mode,
        "template": _template_record(req, suite, template),
        "model": target.model, "model_file_sha256": target.info.get("file_sha256"), "base_url": target.base_url,
        "endpoint": target.info, "quantization": target.info.get("quantization", "unknown"),
        "profile": target.profile.to_dict() if target.profile else None,
        "samples": req.samples, "params": sampling_params(req, template), "seed": req.seed,
        "max_steps": _max_steps(req, suite) if req.mode == "agent" else None, "concurrency": req.concurrency,
        "retrieval": req.retrieval, "time_limit": req.time_limit if _is_repo(suite) else None,
        "server_args": list(req.server_args),
        "extract": {"strategy": req.extract, "sanitize": req.sanitize},
        "sandbox": sandbox.describe(), "sandbox_limits": {"timeout_s": sandbox.limits.time_s},
    }  # fmt: skip


def _is_repo(suite: Suite) -> bool:
    from .repotasks import RepoTask

    return any(isinstance(t, RepoTask) for t in suite.tasks)


def _max_steps(req: EvalRequest, suite: Suite) -> int:
    return req.max_steps if req.max_steps is not None else (12 if _is_repo(suite) else 6)


def _template_record(req: EvalRequest, suite: Suite, template: Template) -> dict[str, Any]:
    if _is_repo(suite):
        return {"name": f"repo-{req.mode}"}
    return template.to_dict() if req.mode == "direct" else {"name": "agent"}


def repo_solver(req: EvalRequest, suite: Suite, settings: Settings, target: Target) -> Any:
    """What runs repository tasks: an ``Assistant`` on the target endpoint (see evals/repoagent.py)."""
    from dataclasses import replace

    from .repoagent import RepoSolver

    local = target.info.get("kind") == "local"
    pointed = replace(settings, base_url=target.base_url, model=target.model, api_key=target.api_key,
                      text_tool_calls=settings.recognise_text_calls,
                      logprobs=settings.logprobs if settings.logprobs is not None else (5 if local else 0))  # fmt: skip
    return RepoSolver(pointed, mode=req.mode, max_steps=_max_steps(req, suite), time_limit=req.time_limit,
                      retrieval=req.retrieval)  # fmt: skip


def check_resumable(old: dict[str, Any], new: dict[str, Any]) -> None:
    differ = [k for k in IDENTITY if old.get(k) != new.get(k)]
    if differ:
        raise RunError(
            f"The run folder holds a run with different settings ({', '.join(differ)}).",
            hint="Use another --name/--out for a new run, or the same settings to resume this one.",
        )


async def run_eval(
    req: EvalRequest,
    settings: Settings,
    *,
    on_progress: ProgressFn | None = None,
    on_start: Any = None,
) -> tuple[RunStore, dict[str, Any]]:
    if req.mode not in ("direct", "agent"):
        raise RunError(f"Unknown mode '{req.mode}': use direct or agent.")
    suite = load_suite(req.suite).select(req.task_ids, req.limit)
    template = get_template(req.template)
    sandbox = Sandbox(eval_limits(req.timeout))
    repo = _is_repo(suite)
    if req.retrieval and not repo:
        raise RunError("--retrieval needs a repository task suite (the copy of the repository is what is indexed).")
    slot_context = REPO_SLOT_CONTEXT if repo else SLOT_CONTEXT
    async with open_target(settings, req.concurrency, req.threads, slot_context=slot_context,
                           server_args=req.server_args, model_path=req.model_path) as target:  # fmt: skip
        store = RunStore(req.out or runs_dir() / (req.name or default_name(req, target.model)))
        req.name = store.name
        config = build_config(req, suite, template, target, sandbox)
        if store.exists():
            old = store.read_config()
            check_resumable(old, config)
            config = {**old, "base_url": config["base_url"], "endpoint": config["endpoint"],
                      "concurrency": config["concurrency"], "sandbox": config["sandbox"]}  # fmt: skip
        store.write_config(config)
        options = RunOptions(
            mode=req.mode, samples=req.samples, params=sampling_params(req, template),
            concurrency=req.concurrency, max_steps=_max_steps(req, suite), extract_strategy=req.extract,
            sanitize=req.sanitize,
            retries=req.retries, retry_wait=req.retry_wait, max_consecutive_errors=req.max_consecutive_errors,
        )  # fmt: skip
        if req.logprobs and req.mode == "direct" and not repo:
            from dataclasses import replace

            target.endpoint.config = replace(target.endpoint.config, logprobs=1)
        solver = repo_solver(req, suite, settings, target) if repo else None
        runner = Runner(
            store, suite, target.endpoint, sandbox, template, options, on_progress, repo=solver, profile=target.profile
        )
        if on_start is not None:
            on_start(store, runner, sandbox)
        summary = await runner.run()
        facts = server_facts(target)
        if facts:
            summary["server"] = facts
            store.write_summary(summary)
    return store, summary
