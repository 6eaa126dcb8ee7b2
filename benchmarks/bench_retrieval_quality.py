"""Retrieval quality: recall@5 and MRR per method on a labelled question set over a real corpus.

Corpus: npm's own documentation as installed with Node.js (docs/content/**/*.md under
`npm root -g`/npm; 91 Markdown files, ~0.6 MB); nobody here wrote it. Questions:
benchmarks/retrieval_questions.jsonl — 60 questions phrased as a user would ask them,
each with the sentence(s) that answer it ("evidence"). A retrieved chunk is relevant when
its line range covers a line holding an evidence sentence (in any file: npm repeats
config docs across command pages, and each copy answers equally).

Methods: BM25 over the whole corpus (lexical baseline), the hash embedder (lexical, no model),
all-MiniLM-L6-v2 by embedding only, all-MiniLM-L6-v2 + lexical re-rank of its 30 nearest
(what the assistant does: retriever.lexical_rerank), and a full hybrid (reciprocal-rank fusion
of MiniLM's and corpus-wide BM25's top 10, which needs a lexical index the store does not have). With
--openai-url (e.g. llama-server --embeddings) an OpenAI-compatible embedder is measured too.
Embedding-based methods go through the real path: Indexer → Chroma → Retriever.

An OpenAI-compatible embedder: e.g. `llama-server -m MODEL.gguf --embeddings --pooling mean --port 8090`,
then --openai-url http://127.0.0.1:8090/v1. Only the chat GGUF (Qwen2.5-Coder-0.5B, not an embedding
model) is on this machine: through llama-server it embedded 0.3 chunks/s here (~36 tokens/s; 0.16
chunks/s at load ~8), so over an hour for this corpus; that run was not made.

recall@k: per question, the share of its evidence sentences found in the top k; averaged.
MRR: 1 / rank of the first relevant chunk (0 when none in the top 10); averaged.

    .venv/bin/python benchmarks/bench_retrieval_quality.py [--corpus DIR] [--openai-url URL --openai-model M]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _util import ROOT, pct

QUESTIONS = ROOT / "benchmarks" / "retrieval_questions.jsonl"
OFF_TOPIC = [
    "hi", "thanks, that helps", "What is the capital of France?", "Write a Python function that reverses a string.",
    "How do I make sourdough bread?", "Explain quantum entanglement simply.", "what's the weather like today",
    "Translate 'good morning' into German.", "Who won the 2018 football world cup?", "How do I exit vim?",
]  # fmt: skip
K = 10


def npm_docs() -> Path:
    try:
        root = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        root = ""
    for base in (root, "/usr/lib/node_modules", "/usr/local/lib/node_modules"):
        path = Path(base) / "npm" / "docs" / "content"
        if base and path.is_dir():
            return path
    raise SystemExit("npm's documentation was not found (install Node.js/npm, or pass --corpus DIR).")


@dataclass
class Question:
    id: str
    question: str
    evidence: list[str]


def load_questions() -> list[Question]:
    return [Question(**json.loads(line)) for line in QUESTIONS.read_text().splitlines() if line.strip()]


def evidence_lines(corpus: Path, questions: list[Question]) -> dict[str, list[list[tuple[str, int]]]]:
    """Per question, per evidence sentence: the (path, line) pairs that hold it."""
    texts = {str(p.resolve()): p.read_text(encoding="utf-8").splitlines() for p in sorted(corpus.rglob("*.md"))}
    out: dict[str, list[list[tuple[str, int]]]] = {}
    for q in questions:
        out[q.id] = []
        for ev in q.evidence:
            where = [(path, i + 1) for path, lines in texts.items() for i, line in enumerate(lines) if ev in line]
            if not where:
                raise SystemExit(f"{q.id}: evidence not found in the corpus: {ev!r}")
            out[q.id].append(where)
    return out


def relevant(hit: tuple[str, int, int], places: list[tuple[str, int]]) -> bool:
    path, start, end = hit
    return any(path == p and start <= line <= end for p, line in places)


def score(ranked: list[tuple[str, int, int]], evidence: list[list[tuple[str, int]]]) -> tuple[float, float, float]:
    """(recall@1, recall@5, reciprocal rank) of one ranked list."""

    def recall(k: int) -> float:
        return sum(any(relevant(h, ev) for h in ranked[:k]) for ev in evidence) / len(evidence)

    rr = next((1 / (i + 1) for i, h in enumerate(ranked[:K]) if any(relevant(h, ev) for ev in evidence)), 0.0)
    return recall(1), recall(5), rr


def dense_method(name: str, embedder: Any, corpus: Path, data: Path) -> tuple[Any, float, int]:
    """Index the corpus with this embedder through the real indexer; the index and the indexing time."""
    os.environ["ASSISTANT_DATA_DIR"] = str(data)
    from assistant.retrieval.indexer import Indexer
    from assistant.retrieval.store import Store

    store = Store()
    collection = "bench-" + name.replace(":", "-").replace("/", "-").lower()[:40]
    report = Indexer(store, collection, embedder).run([corpus])
    index = store.open(collection, embedder.name)
    assert index is not None
    return index, report.seconds, index.count()


def corpus_chunks(corpus: Path) -> list[tuple[str, int, int, str]]:
    from assistant.retrieval.chunking import file_chunks, sniff
    from assistant.retrieval.indexer import embed_text

    out = []
    for path in sorted(corpus.rglob("*.md")):
        p = path.resolve()
        for c in file_chunks(p, sniff(p)):
            out.append((str(p), c.start_line, c.end_line, embed_text(str(p), c)))
    return out


def run(args: argparse.Namespace) -> None:
    from assistant.retrieval.embedders import HashEmbedder, MiniLMEmbedder, OpenAIEmbedder
    from assistant.retrieval.lexical import BM25, rrf

    corpus = Path(args.corpus).resolve() if args.corpus else npm_docs()
    questions = load_questions()
    evidence = evidence_lines(corpus, questions)
    chunks = corpus_chunks(corpus)
    print(f"corpus: {corpus} ({len(list(corpus.rglob('*.md')))} files, {len(chunks):,} chunks); "
          f"{len(questions)} questions from {QUESTIONS.relative_to(ROOT)}")  # fmt: skip
    bm25 = BM25([c[3] for c in chunks])
    locs = [(c[0], c[1], c[2]) for c in chunks]
    data = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="bench-quality-"))
    embedders: list[tuple[str, Any]] = [("hash", HashEmbedder()), ("minilm", MiniLMEmbedder())]
    if args.openai_url:
        embedders.append((f"openai:{args.openai_model}", OpenAIEmbedder(args.openai_model, args.openai_url)))
    rankings: dict[str, dict[str, list[tuple[str, int, int]]]] = {"bm25": {}}
    latency: dict[str, list[float]] = {"bm25": []}
    distances: dict[str, tuple[list[float], list[float]]] = {}
    for q in questions:
        t0 = time.perf_counter()
        top = bm25.top(q.question, K)
        latency["bm25"].append(time.perf_counter() - t0)
        rankings["bm25"][q.id] = [locs[i] for i, _ in top]
    from assistant.retrieval.retriever import RERANK_POOL, Retriever

    methods: list[tuple[str, Any]] = []
    for name, emb in embedders:
        index, index_s, n = dense_method(name, emb, corpus, data)
        print(
            f"indexed with {emb.name}: {n:,} chunks"
            + (f" in {index_s:.1f} s" if index_s > 1 else " (kept from --data)")
        )
        methods.append((f"{name} (embedding only)", Retriever(index, emb, top_k=K, rerank_pool=0)))
        if name != "hash":
            methods.append((f"{name} + lexical re-rank", Retriever(index, emb, top_k=K, rerank_pool=RERANK_POOL)))
    for name, retriever in methods:
        rankings[name], latency[name] = {}, []
        on_topic = []
        for q in questions:
            t0 = time.perf_counter()
            found = retriever.search(q.question, K)
            latency[name].append(time.perf_counter() - t0)
            rankings[name][q.id] = [(p.path, p.start_line, p.end_line) for p in found]
            hits = [p.distance for p in found if any(relevant((p.path, p.start_line, p.end_line), ev)
                                                     for ev in evidence[q.id])]  # fmt: skip
            on_topic.extend(hits[:1])
        off = [min(p.distance for p in retriever.search(t, 5)) for t in OFF_TOPIC]
        distances[name] = (on_topic, off)
    if "minilm (embedding only)" in rankings:
        fused: dict[str, list[tuple[str, int, int]]] = {}
        for q in questions:
            lists = [rankings["minilm (embedding only)"][q.id], rankings["bm25"][q.id]]
            pool = list(dict.fromkeys(h for lst in lists for h in lst))
            order = rrf([[pool.index(h) for h in lst] for lst in lists], limit=K)
            fused[q.id] = [pool[i] for i in order]
        rankings["hybrid: minilm + global BM25"] = fused
    report(rankings, latency, evidence, questions, distances)


def report(
    rankings: dict[str, dict[str, list[tuple[str, int, int]]]],
    latency: dict[str, list[float]],
    evidence: dict[str, list[list[tuple[str, int]]]],
    questions: list[Question],
    distances: dict[str, tuple[list[float], list[float]]],
) -> None:
    print(f"\n{'method':32} {'recall@1':>9} {'recall@5':>9} {'MRR':>7} {'query p50':>10}")
    for name, ranked in rankings.items():
        scores = [score(ranked[q.id], evidence[q.id]) for q in questions]
        r1, r5, mrr = (statistics.mean(s[i] for s in scores) for i in range(3))
        lat = f"{statistics.median(latency[name]) * 1000:8.1f} ms" if name in latency else f"{'-':>10}"
        print(f"{name:32} {r1:>9.3f} {r5:>9.3f} {mrr:>7.3f} {lat}")
        misses = [q.id for q, s in zip(questions, scores, strict=True) if s[1] < 1]
        if misses:
            print(f"{'':32} not fully found in the top 5: {', '.join(misses)}")
    for name, (on, off) in distances.items():
        if on and off:
            print(f"\n{name}: cosine distance of the first relevant hit p50 {statistics.median(on):.3f}, "
                  f"p90 {pct(on, 90):.3f}, max {max(on):.3f}; best hit for off-topic messages: "
                  f"min {min(off):.3f}, p50 {statistics.median(off):.3f}")  # fmt: skip
            for t in (0.6, 0.65, 0.7, 0.75, 0.8):
                kept = sum(d <= t for d in on) / len(on)
                leaked = sum(d <= t for d in off) / len(off)
                print(
                    f"  max distance {t:.2f}: keeps {kept:.0%} of relevant first hits, "
                    f"passes {leaked:.0%} of off-topic messages"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", help="corpus folder (default: npm's docs/content)")
    parser.add_argument("--data", help="keep the indexes here (reruns only re-index what changed)")
    parser.add_argument("--openai-url", help="an OpenAI-compatible /v1 URL serving embeddings")
    parser.add_argument("--openai-model", default="default")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
