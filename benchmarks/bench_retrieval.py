"""Retrieval performance: embedding and indexing throughput, query latency and memory at 1k/10k/100k chunks.

1. Embedder start-up in a fresh process (import + load): torch (sentence-transformers) vs the
   cached ONNX export (onnxruntime), and throughput (chunks/s) on real chunks of npm's docs
   for each backend and thread count. CPU seconds are shown too: this machine may be shared,
   and chunks per CPU-second does not depend on what else runs.
2. Indexing throughput end to end (read, chunk, embed, write to Chroma) on npm's docs with the
   default embedder; the share of the time spent embedding.
3. Query latency p50/p95 and peak memory (RSS) with 1k, 10k and 100k chunks in a local Chroma
   collection, each size in its own process. Vectors: real all-MiniLM-L6-v2 vectors of npm doc
   chunks plus small noise (clustered like real text, unlike uniform random vectors); documents:
   real chunk texts. Measured: the Chroma query alone (30 nearest, as the retriever asks) and the
   whole per-turn retrieval (embed the question + query + lexical re-rank).

    .venv/bin/python benchmarks/bench_retrieval.py [--sizes 1000,10000,100000] [--skip-index]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _util import ROOT, median, pct

HERE = Path(__file__).resolve().parent
SAMPLE = 192  # chunks embedded per throughput measurement


def peak_rss() -> int:
    """This process's peak resident memory in bytes. (Not getrusage's ru_maxrss: on Linux that keeps the
    pre-exec peak, i.e. the forking parent's size, across the exec of a child process.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def load_avg() -> str:
    return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def sample_chunks(n: int) -> list[str]:
    from bench_retrieval_quality import npm_docs

    from assistant.retrieval.chunking import file_chunks, sniff
    from assistant.retrieval.indexer import embed_text

    out: list[str] = []
    for path in sorted(npm_docs().rglob("*.md")):
        out.extend(embed_text(str(path), c) for c in file_chunks(path, sniff(path)))
    step = max(1, len(out) // n)
    return out[::step][:n]


def startup(backend: str, data: str) -> dict[str, float]:
    """Import + load the embedder in a fresh process, and embed one query."""
    code = (
        "import time;t=time.perf_counter();from assistant.retrieval.embedders import MiniLMEmbedder as M;"
        f"e=M(backend={backend!r});e.load();l=time.perf_counter()-t;e.embed(['how do I publish?']);"
        "from bench_retrieval import peak_rss;print(l, time.perf_counter()-t, peak_rss())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=HERE, timeout=600,
                         env={**os.environ, "ASSISTANT_DATA_DIR": data, "PYTHONPATH": str(ROOT)})  # fmt: skip
    load, first, rss = (float(x) for x in out.stdout.split())
    return {"load": load, "first_query": first, "rss": rss}


def throughput(texts: list[str], data: str) -> None:
    from assistant.retrieval.embedders import MiniLMEmbedder

    os.environ["ASSISTANT_DATA_DIR"] = data
    print(f"\nembedding throughput, {len(texts)} real chunks (avg {sum(map(len, texts)) / len(texts):.0f} chars), "
          f"batch 16; {load_avg()}")  # fmt: skip
    print(f"{'backend':8} {'threads':>7} {'chunks/s':>9} {'chunks/CPU-s':>13}")
    for backend in ("torch", "onnx"):
        for threads in (1, 2):
            emb = MiniLMEmbedder(threads=threads, backend=backend)
            emb.embed(texts[:16])  # warm up
            wall, cpu = time.perf_counter(), time.process_time()
            emb.embed(texts)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(f"{backend:8} {threads:>7} {len(texts) / wall:>9.1f} {len(texts) / cpu:>13.1f}")


def index_throughput(data: str) -> None:
    from bench_retrieval_quality import npm_docs

    from assistant.retrieval.embedders import MiniLMEmbedder
    from assistant.retrieval.indexer import Indexer
    from assistant.retrieval.store import Store

    os.environ["ASSISTANT_DATA_DIR"] = data
    emb = MiniLMEmbedder()
    emb.load()
    cpu = time.process_time()
    report = Indexer(Store(), "bench-throughput", emb).run([npm_docs()])
    cpu = time.process_time() - cpu
    print(f"\nindexing npm's docs with {emb.name} ({emb.backend_used}): {report.files} files, {report.chunks:,} chunks "
          f"in {report.seconds:.1f} s = {report.chunks_per_second:.1f} chunks/s "
          f"({report.chunks / cpu:.1f} per CPU-second), {100 * report.embed_seconds / report.seconds:.0f}% embedding; "
          f"{load_avg()}")  # fmt: skip


def make_vectors(base: list[list[float]], n: int, seed: int = 7) -> Any:
    import numpy as np

    rng = np.random.default_rng(seed)
    b = np.asarray(base, dtype=np.float32)
    picks = b[rng.integers(0, len(b), n)]
    vecs = picks + rng.normal(0, 0.02, picks.shape).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def worker(size: int, tmp: str, base_file: str) -> None:
    """One size in a fresh process: insert, then time queries; prints one JSON line.

    The store goes in ``tmp``; the data dir stays the parent's, where the ONNX export is cached."""
    import numpy as np

    os.environ["ASSISTANT_DATA_DIR"] = str(Path(tmp).parent)
    from assistant.retrieval.embedders import MiniLMEmbedder
    from assistant.retrieval.retriever import RERANK_POOL, Retriever
    from assistant.retrieval.store import Store

    saved = json.loads(Path(base_file).read_text())
    base, texts, questions = saved["vectors"], saved["texts"], saved["questions"]
    store = Store(path=Path(tmp) / "chroma")
    index = store.open("bench-scale", MiniLMEmbedder.name, create=True, dimension=384)
    assert index is not None
    vectors = make_vectors(base, size)
    t0 = time.perf_counter()
    for start in range(0, size, 2000):
        end = min(size, start + 2000)
        ids = [f"c{i}" for i in range(start, end)]
        metas = [{"path": f"/docs/f{i % 500}.md", "start_line": i, "end_line": i + 9, "heading": "", "seq": i,
                  "file_hash": "x", "chunk_hash": "y", "unit": "line"} for i in range(start, end)]  # fmt: skip
        index.write(ids, vectors[start:end].tolist(), [texts[i % len(texts)] for i in range(start, end)], metas)
    insert_s = time.perf_counter() - t0
    queries = make_vectors(saved["qvectors"], 200, seed=11).tolist()
    for q in queries[:10]:
        index.search(q, RERANK_POOL)
    lat = []
    for q in queries:
        t = time.perf_counter()
        index.search(q, RERANK_POOL)
        lat.append(time.perf_counter() - t)
    emb = MiniLMEmbedder()
    retriever = Retriever(index, emb)
    retriever.search("warm up")
    full = []
    for q in questions * 2:
        t = time.perf_counter()
        retriever.search(q)
        full.append(time.perf_counter() - t)
    disk = store.disk_bytes() or 0
    rss = peak_rss()
    print(json.dumps({"size": size, "insert_per_s": size / insert_s, "p50": median(lat), "p95": pct(lat, 95),
                      "full_p50": median(full), "full_p95": pct(full, 95), "rss": rss, "disk": disk,
                      "backend": emb.backend_used, "dims": int(np.asarray(base).shape[1])}))  # fmt: skip


def scale(sizes: list[int], data: str) -> None:
    from bench_retrieval_quality import load_questions

    from assistant.retrieval.embedders import MiniLMEmbedder

    os.environ["ASSISTANT_DATA_DIR"] = data
    emb = MiniLMEmbedder()
    texts = sample_chunks(512)
    questions = [q.question for q in load_questions()]
    base_file = Path(data) / "base.json"
    base_file.write_text(json.dumps({"vectors": emb.embed(texts), "texts": texts, "questions": questions,
                                     "qvectors": emb.embed(questions)}))  # fmt: skip
    print(f"\nquery latency and memory by collection size (local Chroma, HNSW, cosine); {load_avg()}")
    print(f"{'chunks':>8} {'insert/s':>9} {'query p50':>10} {'query p95':>10} {'turn p50':>9} {'turn p95':>9} "
          f"{'peak RSS':>9} {'on disk':>9}")  # fmt: skip
    for size in sizes:
        with tempfile.TemporaryDirectory(dir=data) as tmp:
            out = subprocess.run([sys.executable, str(HERE / "bench_retrieval.py"), "--worker", str(size), tmp,
                                  str(base_file)], capture_output=True, text=True, timeout=3600, cwd=ROOT)  # fmt: skip
            if out.returncode != 0:
                print(f"{size:>8} failed: {out.stderr[-500:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{size:>8,} {r['insert_per_s']:>9,.0f} {r['p50'] * 1e3:>7.1f} ms {r['p95'] * 1e3:>7.1f} ms "
                  f"{r['full_p50'] * 1e3:>6.1f} ms {r['full_p95'] * 1e3:>6.1f} ms {r['rss'] / 2**20:>6.0f} MB "
                  f"{r['disk'] / 2**20:>6.0f} MB")  # fmt: skip
    print("(query: Chroma's 30 nearest; turn: embed the question (ONNX) + query + lexical re-rank)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--parts", default="startup,throughput,index,scale", help="which parts to run")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(int(args.worker[0]), args.worker[1], args.worker[2])
        return
    parts = set(args.parts.split(","))
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as data:
        if "startup" in parts or "throughput" in parts or "index" in parts:
            startups(data)
        if "throughput" in parts:
            throughput(sample_chunks(SAMPLE), data)
        if "index" in parts:
            index_throughput(data)
        if "scale" in parts:
            scale([int(x) for x in args.sizes.split(",")], data)


def startups(data: str) -> None:
    """Also leaves the ONNX export in ``data`` for the parts after it."""
    print(f"embedder start-up in a fresh process ({load_avg()}):")
    labels = {"auto": "first run (torch load + one-time ONNX export)", "torch": "torch (sentence-transformers)",
              "onnx": "onnx (cached export, onnxruntime)"}  # fmt: skip
    for backend in ("auto", "torch", "onnx"):  # auto first: it exports the model the onnx run loads
        s = startup(backend, data)
        print(f"  {labels[backend]:48} import+load {s['load']:5.1f} s, first query done at "
              f"{s['first_query']:5.1f} s, peak RSS {s['rss'] / 2**20:,.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
