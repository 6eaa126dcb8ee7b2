"""Benchmark: answers grounded in retrieved passages (issue 10, "Grounded answers").

Corpus: the Python standard library modules the questions are about (25 modules, ~13,000 lines),
copied from the running interpreter's ``Lib/`` into a folder under the data dir; nobody here wrote
them. Questions: ``benchmarks/grounded/questions.jsonl`` — each answerable from one passage, labelled
with the file, an ``anchor`` (a regex for the line that holds the answer; its line number is found at
run time, so the labels survive small differences between Python versions) and the ``fact`` (a regex
the answer must match).

The corpus is indexed with the project's own command (`assistant index add CORPUS --collection C`,
the default embedder; unchanged files are skipped on later runs), then every question is asked
through ``assistant.api.Assistant`` from inside the corpus folder with per-turn retrieval on (mode
"auto"), as `assistant ask` would there. Tools are off by default (``--tools`` offers the built-in
``files`` and ``run`` servers too). Reported:

* retrieval recall: the labelled file among the retrieved passages; and the labelled line inside one;
* answer contains the fact; answer cites the right file (its name, bare or as ``path:lines``);
  answer cites ``path:lines`` whose range holds the labelled line;
* the same answer figures conditional on retrieval success (the labelled line retrieved) and failure.

Usage::

    .venv/bin/python benchmarks/bench_grounded.py                        # local 0.5B
    .venv/bin/python benchmarks/bench_grounded.py --local-model qwen2.5-coder-1.5b --limit 10
    .venv/bin/python benchmarks/bench_grounded.py --retrieval-only       # recall only, no model
    .venv/bin/python benchmarks/bench_grounded.py --summary results.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import filecmp
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tooluse_lib import (
    ROOT,
    LocalServe,
    isolate_environment,
    jsonl_writer,
    load_jsonl,
    rate,
    run_turn,
    time_line,
    warn_if_own_server,
)

QUESTIONS = ROOT / "benchmarks" / "grounded" / "questions.jsonl"


def corpus_dir() -> Path:
    from assistant.paths import data_dir

    return data_dir() / "bench" / f"grounded-stdlib-{sys.version_info[0]}.{sys.version_info[1]}"


def build_corpus(files: list[str], dest: Path) -> Path:
    """Copy the modules from this interpreter's Lib/ (only those that differ, so the index stays valid)."""
    lib = Path(sysconfig.get_paths()["stdlib"])
    dest.mkdir(parents=True, exist_ok=True)
    for name in files:
        src, dst = lib / name, dest / name
        if not dst.exists() or not filecmp.cmp(src, dst, shallow=False):
            shutil.copy2(src, dst)
    for extra in dest.iterdir():
        if extra.is_file() and extra.name not in files:
            extra.unlink()
    return dest


def resolve_labels(questions: list[dict[str, Any]], corpus: Path) -> None:
    """Each question's ``line``: the first line matching its anchor (None: label does not fit this Python)."""
    for q in questions:
        lines = (corpus / q["file"]).read_text(encoding="utf-8").splitlines()
        q["line"] = next((i for i, text in enumerate(lines, 1) if re.search(q["anchor"], text)), None)


def index_corpus(corpus: Path, collection: str) -> str:
    cmd = [sys.executable, "-m", "assistant", "index", "add", ".", "--collection", collection, "--quiet"]
    done = subprocess.run(cmd, cwd=corpus, capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode != 0:
        raise SystemExit(f"indexing failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def norm(path: str, corpus: Path) -> str:
    p = Path(path)
    with contextlib.suppress(ValueError):
        p = p.resolve().relative_to(corpus.resolve())
    return p.as_posix()


def score(q: dict[str, Any], sources: list[dict[str, Any]], text: str, corpus: Path) -> dict[str, Any]:
    line = q["line"]
    files = [norm(s["path"], corpus) for s in sources]
    got_file = q["file"] in files
    got_line = line is not None and any(
        f == q["file"] and s["start_line"] <= line <= s["end_line"] for f, s in zip(files, sources, strict=True)
    )
    name = re.escape(Path(q["file"]).name)
    cited = re.search(rf"(?<![\w.]){name}\b", text) is not None
    cited_lines = False
    for m in re.finditer(rf"(?<![\w.]){name}:(\d+)(?:\s*[-–]\s*(\d+))?", text):
        lo = int(m.group(1))
        hi = int(m.group(2) or lo)
        if line is not None and lo <= line <= hi:
            cited_lines = True
    return {
        "retrieved_file": got_file,
        "retrieved_line": got_line,
        "fact": re.search(q["fact"], text, re.IGNORECASE) is not None,
        "cites_file": cited,
        "cites_lines": cited_lines,
        "retrieved": [f"{f}:{s['start_line']}-{s['end_line']}" for f, s in zip(files, sources, strict=True)],
    }


async def ask_all(questions: list[dict[str, Any]], args: argparse.Namespace, corpus: Path, out: Path) -> list[dict]:
    from assistant.api import Assistant

    overrides: dict[str, Any] = {"collection": args.collection, "retrieval": "auto"}
    if args.top_k:
        overrides["retrieval_top_k"] = args.top_k
    if args.base_url:
        overrides.update(base_url=args.base_url, model=args.model)
    else:
        overrides["local_model"] = args.local_model
    mcp: Any = False
    if args.tools:
        from assistant.cli.tools import BUILTIN
        from assistant.mcp_config import load_servers
        from assistant.toolhub import McpOptions

        mcp = McpOptions(workspace=corpus, builtin=BUILTIN, servers=load_servers(corpus, BUILTIN, files=[]), yes=True)
    rows: list[dict[str, Any]] = []
    os.chdir(corpus)  # as a user who runs `assistant ask` in the indexed folder
    serve = contextlib.nullcontext() if args.base_url else LocalServe(args.local_model)
    async with serve, Assistant(history=False, mcp=mcp, **overrides) as bot:
        warn_if_own_server(bot)
        print(f"# model {bot.model}; retrieval: {bot.retrieval_status}", file=sys.stderr)
        with jsonl_writer(out) as write:
            for i, q in enumerate(questions, 1):
                bot.new_conversation()
                turn = await run_turn(bot, q["question"], args.turn_timeout)
                row = {**q, **score(q, turn.sources, turn.text, corpus), **turn.as_dict(), "model": bot.model}
                rows.append(row)
                write(row)
                marks = "".join(
                    c if row[k] else "."
                    for c, k in (("R", "retrieved_line"), ("F", "fact"), ("C", "cites_file"), ("L", "cites_lines"))
                )
                print(f"[{i:2d}/{len(questions)}] {marks} {row['total_s']:6.1f}s {q['id']} {q['question'][:70]!r}"
                      f"{' ' + turn.error if turn.error else ''}", file=sys.stderr)  # fmt: skip
            write({"summary": summarise(rows) | {"model": bot.model}})
    return rows


def retrieval_only(questions: list[dict[str, Any]], args: argparse.Namespace, corpus: Path) -> list[dict]:
    from assistant.config import load_settings
    from assistant.retrieval import open_retriever

    settings = load_settings({"collection": args.collection, **({"retrieval_top_k": args.top_k} if args.top_k else {})})
    setup = open_retriever(settings, corpus)
    if setup.retriever is None:
        raise SystemExit(f"no retriever: {setup.status}")
    rows = []
    for q in questions:
        found = setup.retriever.search(q["question"], cutoff=True)
        sources = [{"path": p.path, "start_line": p.start_line, "end_line": p.end_line} for p in found]
        rows.append({**q, **score(q, sources, "", corpus), "text": "", "total_s": 0.0, "error": ""})
    return rows


def rescore(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Score saved answers again with the current labels (a label fixed after the run counts)."""
    labels = {q["id"]: q for q in load_jsonl(QUESTIONS)}
    corpus = corpus_dir()
    for row in rows:
        q = {**row, **labels.get(row["id"], {})}
        if (corpus / q["file"]).exists():
            resolve_labels([q], corpus)
        row.update(score(q, row.get("sources", []), row.get("text", ""), corpus))
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    hit = [r for r in rows if r["retrieved_line"]]
    miss = [r for r in rows if not r["retrieved_line"]]

    def count(group: list[dict[str, Any]], key: str) -> list[int]:
        return [sum(bool(r[key]) for r in group), len(group)]

    return {
        "questions": len(rows),
        "labels_unresolved": sum(r["line"] is None for r in rows),
        "retrieved_file": count(rows, "retrieved_file"),
        "retrieved_line": count(rows, "retrieved_line"),
        "fact": count(rows, "fact"),
        "cites_file": count(rows, "cites_file"),
        "cites_lines": count(rows, "cites_lines"),
        "fact_when_retrieved": count(hit, "fact"),
        "cites_file_when_retrieved": count(hit, "cites_file"),
        "cites_lines_when_retrieved": count(hit, "cites_lines"),
        "fact_when_missed": count(miss, "fact"),
        "errors": sum(bool(r.get("error")) for r in rows),
        "total_s": [r["total_s"] for r in rows if r.get("total_s")],
        "first_token_s": [r["first_token_s"] for r in rows if r.get("first_token_s") is not None],
    }


def report(s: dict[str, Any]) -> str:
    return "\n".join([
        f"model: {s.get('model', '-')}   questions: {s['questions']}   unresolved labels: {s['labels_unresolved']}   "
        f"turn errors: {s['errors']}",
        f"retrieval recall, labelled file among passages:  {rate(*s['retrieved_file'])}",
        f"retrieval recall, labelled line in a passage:    {rate(*s['retrieved_line'])}",
        f"answer contains the fact:                        {rate(*s['fact'])}",
        f"answer cites the file:                           {rate(*s['cites_file'])}",
        f"answer cites path:lines holding the line:        {rate(*s['cites_lines'])}",
        f"  when the line was retrieved: fact {rate(*s['fact_when_retrieved'])}, "
        f"cites file {rate(*s['cites_file_when_retrieved'])}, cites lines {rate(*s['cites_lines_when_retrieved'])}",
        f"  when it was not retrieved:   fact {rate(*s['fact_when_missed'])}",
        f"time to first token: {time_line(s['first_token_s'])}",
        f"turn time:           {time_line(s['total_s'])}",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--ids", default="", help="only these question ids (comma-separated)")
    parser.add_argument("--local-model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--model", default=None)
    parser.add_argument("--collection", default="bench-grounded-stdlib")
    parser.add_argument("--top-k", type=int, default=0, help="passages retrieved per question (default: the setting's)")
    parser.add_argument("--tools", action="store_true", help="offer the built-in files and run tools too")
    parser.add_argument("--retrieval-only", action="store_true", help="measure retrieval recall only (no model)")
    parser.add_argument("--turn-timeout", type=float, default=300.0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--summary", type=Path, default=None, help="print the figures of a results JSONL and exit")
    args = parser.parse_args(argv)
    if args.summary:
        rows = rescore([r for r in load_jsonl(args.summary) if "summary" not in r])
        print(report(summarise(rows) | {"model": rows[0].get("model", "-") if rows else "-"}))
        return 0
    questions = load_jsonl(QUESTIONS)
    if args.ids:
        questions = [q for q in questions if q["id"] in set(args.ids.split(","))]
    if args.limit:
        questions = questions[: args.limit]
    isolate_environment(Path(tempfile.mkdtemp(prefix="bench-grounded-")))
    all_files = sorted({q["file"] for q in load_jsonl(QUESTIONS)})
    corpus = build_corpus(all_files, corpus_dir())
    resolve_labels(questions, corpus)
    for q in questions:
        if q["line"] is None:
            print(f"# label {q['id']}: anchor not found in {q['file']} on this Python", file=sys.stderr)
    started = time.perf_counter()
    print(f"# {index_corpus(corpus, args.collection)} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    if args.retrieval_only:
        rows = retrieval_only(questions, args, corpus)
        print(report(summarise(rows) | {"model": "(retrieval only)"}))
        return 0
    name = args.model or args.local_model
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = args.out or ROOT / "benchmarks" / "results" / f"grounded-{name.replace(':', '_')}-{stamp}.jsonl"
    out = out.resolve()
    rows = asyncio.run(ask_all(questions, args, corpus, out))
    print(report(summarise(rows) | {"model": rows[0]["model"] if rows else name}))
    print(f"results: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
