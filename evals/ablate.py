"""Ablations as one command: a matrix of cells, each a normal eval run, then a side-by-side report.

``run_matrix`` runs the cells of a matrix (``evals/templates/matrix.toml`` or a file of the same
shape) one after another, each in ``<out>/<cell>/`` through ``run_eval`` (so each cell resumes,
reports and compares like any run). Before a cell:

* ``quant``: the local model's weights re-quantized with ``llama-quantize --allow-requantize``
  from the same llama.cpp build as the server (cached under the data dir); a type the build
  cannot make skips the cell with llama-quantize's own reason.
* ``kv``: ``--cache-type-k/-v`` for llama-server (with flash attention on, which a quantized V
  cache needs).
* ``model``: another local model (e.g. the 1.5B); not installed: skipped with the install hint.
* ``perplexity``: llama-perplexity on held-out code (the suite's repositories, written for this
  project, so no model has trained on them): perplexity, and against the shipped weights with
  an f16 cache, mean KL divergence and top-1 agreement of the next-token distributions.

A failing cell (server that does not start, endpoint down) is recorded with its reason and the
matrix goes on. ``matrix.json`` in the matrix folder holds every cell's state; the report
(``evals/matrix_report.py``) is written at the end and by ``assistant eval ablate-report``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.errors import AssistantError

SHIPPED = "shipped"
KV_TYPES = ("f16", "q8_0", "q4_0", "q5_0", "q5_1", "q4_1", "iq4_nl", "bf16", "f32")
PPL_CTX = 256
PPL_CHUNKS = 6


class MatrixError(AssistantError):
    """A matrix that cannot be loaded or run."""


class CellSkipped(Exception):
    """This cell cannot run here; the message says why."""


@dataclass
class Cell:
    name: str
    axis: str = ""
    baseline: str | None = None
    suite: str = "humaneval"
    mode: str = "direct"
    tasks: list[str] | None = None
    limit: int | None = None
    model: str | None = None  # local model name; None: the configured one
    quant: str = SHIPPED
    kv: str = "f16"
    samples: int = 1
    temperature: float | None = None
    seed: int | None = None
    retrieval: bool = False
    max_steps: int | None = None
    template: str = "qwen"
    time_limit: float = 300.0
    perplexity: bool = False

    @property
    def local_only(self) -> bool:
        return self.quant != SHIPPED or self.kv != "f16" or self.model is not None or self.perplexity


@dataclass
class Matrix:
    name: str
    description: str
    cells: list[Cell]
    source: str


def _matrix_file() -> Any:
    return resources.files(__package__ or "assistant.evals").joinpath("templates", "matrix.toml")


def matrix_names() -> dict[str, str]:
    data = tomllib.loads(_matrix_file().read_text(encoding="utf-8"))
    return {k: str(v.get("description", "")) for k, v in data.items() if isinstance(v, dict)}


def load_matrix(name: str, path: Path | None = None) -> Matrix:
    """Matrix ``name`` from ``path`` (default: the bundled matrix.toml)."""
    where = str(path) if path else "evals/templates/matrix.toml"
    try:
        text = path.read_text(encoding="utf-8") if path else _matrix_file().read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise MatrixError(f"Cannot read the matrix file {where}: {exc}.") from None
    if name not in data or not isinstance(data[name], dict):
        known = ", ".join(k for k, v in data.items() if isinstance(v, dict)) or "none"
        raise MatrixError(f"No matrix '{name}' in {where}.", hint=f"Matrices: {known}.")
    table = data[name]
    defaults = table.get("defaults", {})
    known_keys = {f.name for f in dataclasses.fields(Cell)}
    cells: list[Cell] = []
    for n, raw in enumerate(table.get("cells", []), 1):
        merged = {**defaults, **raw}
        unknown = set(merged) - known_keys
        if unknown or "name" not in merged:
            what = f"unknown key(s) {', '.join(sorted(unknown))}" if unknown else "no name"
            raise MatrixError(f"{where}: [{name}] cell {n}: {what}.")
        try:
            cells.append(Cell(**merged))
        except TypeError as exc:
            raise MatrixError(f"{where}: [{name}] cell {n}: {exc}.") from None
    _check_cells(cells, where, name)
    return Matrix(name, str(table.get("description", "")), cells, where)


def _check_cells(cells: list[Cell], where: str, name: str) -> None:
    names = [c.name for c in cells]
    if not cells:
        raise MatrixError(f"{where}: [{name}] has no cells.")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise MatrixError(f"{where}: [{name}] names cells twice: {', '.join(dupes)}.")
    for c in cells:
        if not re.fullmatch(r"[\w.-]+", c.name):
            raise MatrixError(f"{where}: cell name '{c.name}' must be letters, digits, '.', '_' or '-'.")
        if c.baseline is not None and c.baseline not in names:
            raise MatrixError(f"{where}: cell {c.name} compares with '{c.baseline}', which is not a cell.")
        if c.mode not in ("direct", "agent"):
            raise MatrixError(f"{where}: cell {c.name}: mode must be direct or agent.")


# -- the model files and server flags of a cell --------------------------------------------------


def tool_binary(name: str) -> Path:
    """A llama.cpp tool from the same build as llama-server (llama-quantize, llama-perplexity)."""
    from assistant.local.server import llama_server_binary

    path = llama_server_binary().parent / name
    if not path.is_file():
        raise CellSkipped(f"this llama.cpp build has no {name}")
    return path


async def _run_tool(argv: list[str], limit_s: float) -> tuple[int, str]:
    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL, stdout=pipe,
                                                stderr=asyncio.subprocess.STDOUT)  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), limit_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return -9, f"timed out after {limit_s:g} s"
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode or 0, out.decode("utf-8", "replace")


def _tail(text: str, n: int = 2) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return " | ".join(lines[-n:])[:300]


async def shipped_model(model: str) -> Path:
    from assistant.errors import LocalModelError
    from assistant.local.models import ensure_model_file

    try:
        return await asyncio.to_thread(ensure_model_file, model)
    except LocalModelError as exc:
        raise CellSkipped(exc.user_line()) from None


async def quantized_model(model: str, quant: str, threads: int | None = None) -> Path:
    """The shipped weights re-quantized to ``quant`` (cached); CellSkipped if the build cannot make it."""
    from assistant.local.models import models_dir

    source = await shipped_model(model)
    out = models_dir() / "variants" / f"{model}-{quant}.gguf"
    if out.is_file():
        return out
    quantize = tool_binary("llama-quantize")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".gguf.tmp")
    argv = [str(quantize), "--allow-requantize", str(source), str(tmp), quant]
    if threads:
        argv.append(str(threads))
    code, output = await _run_tool(argv, limit_s=1800)
    if code != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise CellSkipped(f"llama-quantize cannot make {quant} here (exit {code}): {_tail(output)}")
    tmp.replace(out)
    return out


def kv_args(kv: str) -> tuple[str, ...]:
    if kv == "f16":
        return ()
    if kv not in KV_TYPES:
        raise CellSkipped(f"unknown KV cache type {kv} (llama.cpp has {', '.join(KV_TYPES)})")
    return ("--cache-type-k", kv, "--cache-type-v", kv, "--flash-attn", "on")


# -- perplexity and KL divergence on held-out code -------------------------------------------------


def heldout_text(out_dir: Path) -> Path:
    """The repository tasks' code (starting files and solutions), one file: code no model has seen."""
    from .repotasks import repos_dir

    path = out_dir / "heldout-code.txt"
    if not path.is_file():
        parts = [f"# {p.relative_to(repos_dir())}\n{p.read_text(encoding='utf-8')}"
                 for p in sorted(repos_dir().rglob("*.py")) if "hidden" not in p.parts]  # fmt: skip
        path.write_text("\n".join(parts), encoding="utf-8")
    return path


_PPL = re.compile(r"Final estimate: PPL = ([\d.]+) \+/- ([\d.]+)")
_KLD = re.compile(r"Mean\s+KLD:\s+([-\d.]+)\s+±\s+([\d.]+)")
_TOP1 = re.compile(r"Same top p:\s+([\d.]+)\s+±\s+([\d.]+)\s*%")


def parse_perplexity(output: str) -> dict[str, float]:
    facts: dict[str, float] = {}
    for regex, keys in ((_PPL, ("ppl", "ppl_se")), (_KLD, ("kld", "kld_se")), (_TOP1, ("top1_pct", "top1_se"))):
        m = regex.search(output)
        if m:
            facts[keys[0]], facts[keys[1]] = float(m.group(1)), float(m.group(2))
    if "ppl" not in facts:  # KL mode prints PPL per chunk only; its own "Mean PPL(Q)" line
        m = re.search(r"Mean PPL\(Q\)\s*:\s*([\d.]+)\s+±\s+([\d.]+)", output)
        if m:
            facts["ppl"], facts["ppl_se"] = float(m.group(1)), float(m.group(2))
    return facts


async def measure_perplexity(model_file: Path, kv: str, work: Path, base: Path | None,
                             threads: int | None) -> dict[str, Any]:  # fmt: skip
    """llama-perplexity on the held-out text; with ``base`` (logits of the shipped weights) KL too."""
    exe = tool_binary("llama-perplexity")
    argv = [str(exe), "-m", str(model_file), "-f", str(heldout_text(work)), "-c", str(PPL_CTX),
            "--chunks", str(PPL_CHUNKS), *kv_args(kv)]  # fmt: skip
    if threads:
        argv += ["-t", str(threads)]
    if base is not None:
        argv += ["--kl-divergence-base", str(base)] + (["--kl-divergence"] if _exists(base) else [])
    code, output = await _run_tool(argv, limit_s=3600)
    if code != 0:
        return {"error": f"llama-perplexity failed (exit {code}): {_tail(output)}"}
    return {**parse_perplexity(output), "text": "held-out code", "ctx": PPL_CTX, "chunks": PPL_CHUNKS}


# -- running the matrix ----------------------------------------------------------------------------


@dataclass
class CellState:
    name: str
    status: str = "pending"  # pending | complete | incomplete | skipped | error
    reason: str = ""
    run: str = ""
    model_file: str = ""
    server_args: list[str] = field(default_factory=list)
    precision: dict[str, Any] = field(default_factory=dict)


def _state_path(out: Path) -> Path:
    return out / "matrix.json"


def read_state(out: Path) -> dict[str, Any]:
    try:
        data = json.loads(_state_path(out).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_state(out: Path, matrix: Matrix, states: dict[str, CellState]) -> None:
    data = {"matrix": matrix.name, "description": matrix.description, "source": matrix.source,
            "updated": dt.datetime.now().isoformat(timespec="seconds"),
            "cells": [dataclasses.asdict(c) for c in matrix.cells],
            "states": {k: dataclasses.asdict(v) for k, v in states.items()}}  # fmt: skip
    tmp = _state_path(out).with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    tmp.replace(_state_path(out))


@dataclass
class MatrixOptions:
    out: Path
    concurrency: int = 4
    threads: int | None = None
    only: list[str] | None = None  # cell names; None: all
    command: str = ""


CellCallback = Callable[[Cell, CellState], None]


async def run_matrix(matrix: Matrix, settings: Settings, opt: MatrixOptions,
                     on_cell: CellCallback | None = None) -> dict[str, CellState]:  # fmt: skip
    opt.out.mkdir(parents=True, exist_ok=True)
    previous = read_state(opt.out).get("states", {})
    states = {c.name: CellState(c.name) for c in matrix.cells}
    for name, old in previous.items():
        if name in states and isinstance(old, dict):
            states[name] = CellState(**{k: v for k, v in old.items() if k in CellState.__dataclass_fields__})
    kld_base = opt.out / ".kld-base.bin"
    try:
        for cell in matrix.cells:
            if opt.only and cell.name not in opt.only:
                continue
            state = states[cell.name]
            if state.status != "complete":
                await _run_cell(cell, state, settings, opt, kld_base)
            _write_state(opt.out, matrix, states)
            if on_cell is not None:
                on_cell(cell, state)
    finally:
        kld_base.unlink(missing_ok=True)  # hundreds of MB of logits: rebuilt when needed
        _write_state(opt.out, matrix, states)
    return states


async def _run_cell(cell: Cell, state: CellState, settings: Settings, opt: MatrixOptions, kld_base: Path) -> None:
    from .launch import EvalRequest, run_eval

    state.status, state.reason = "pending", ""
    try:
        model_file, args = await _prepare(cell, settings, opt)
    except CellSkipped as exc:
        state.status, state.reason = "skipped", str(exc)
        return
    state.model_file, state.server_args = str(model_file or ""), list(args)
    cell_settings = settings if cell.model is None else dataclasses.replace(settings, local_model=cell.model)
    req = EvalRequest(
        suite=cell.suite, mode=cell.mode, template=cell.template, task_ids=cell.tasks, limit=cell.limit,
        samples=cell.samples, temperature=cell.temperature, seed=cell.seed, max_steps=cell.max_steps,
        time_limit=cell.time_limit, retrieval=cell.retrieval, server_args=args,
        model_path=model_file if cell.quant != SHIPPED else None, concurrency=opt.concurrency,
        threads=opt.threads, out=opt.out / cell.name, name=cell.name,
        command=f"{opt.command}  # cell {cell.name}",
    )  # fmt: skip
    state.run = str(req.out)
    try:
        _, summary = await run_eval(req, cell_settings)
    except AssistantError as exc:
        state.status, state.reason = "error", exc.user_line()
        return
    state.status = "complete" if summary.get("status") == "complete" else "incomplete"
    if cell.perplexity and model_file is not None:
        await _precision_facts(cell, state, settings, opt, model_file, kld_base)


async def _prepare(cell: Cell, settings: Settings, opt: MatrixOptions) -> tuple[Path | None, tuple[str, ...]]:
    if cell.local_only and settings.base_url is not None:
        raise CellSkipped("needs the local model (quantization, KV cache, size and perplexity are local-only)")
    if settings.base_url is not None:
        return None, ()
    model = cell.model or settings.local_model
    args = kv_args(cell.kv)
    if cell.quant == SHIPPED:
        return await shipped_model(model), args
    return await quantized_model(model, cell.quant, opt.threads), args


async def _precision_facts(cell: Cell, state: CellState, settings: Settings, opt: MatrixOptions,
                           model_file: Path, kld_base: Path) -> None:  # fmt: skip
    """Perplexity of this cell's weights and cache type; KL and top-1 against the shipped f16 logits."""
    model = cell.model or settings.local_model
    same_vocab = model == settings.local_model  # KL needs the same tokenizer as the reference
    reference = same_vocab and cell.quant == SHIPPED and cell.kv == "f16"
    if reference and not _exists(kld_base):
        facts = await measure_perplexity(model_file, "f16", opt.out, kld_base, opt.threads)  # writes the logits
        if "error" not in facts:
            facts.update(kld=0.0, top1_pct=100.0, reference=True)
    else:
        if same_vocab and not _exists(kld_base):
            base = await measure_perplexity(await shipped_model(model), "f16", opt.out, kld_base, opt.threads)
            if "error" in base:
                _remove(kld_base)
        base_file = kld_base if same_vocab and _exists(kld_base) else None
        facts = await measure_perplexity(model_file, cell.kv, opt.out, base_file, opt.threads)
    facts["model_file_bytes"] = _size(model_file)
    state.precision = facts
    _write_json(Path(state.run) / "precision.json", facts)


def _exists(path: Path) -> bool:
    return path.is_file()


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def _size(path: Path) -> int:
    return path.stat().st_size


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
