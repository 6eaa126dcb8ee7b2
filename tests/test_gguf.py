"""The GGUF header reader behind the ablation report's "weights as stored" column."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from evals.gguf import GGUFError, describe, tensor_types, tensors


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def write_gguf(path: Path, tensors: list[tuple[str, list[int], int]], payload: int = 0) -> Path:
    """A minimal GGUF v3 file: one string, one string array and one u32 value, then tensor infos."""
    values = (_string("general.name") + struct.pack("<I", 8) + _string("tiny")
              + _string("tokenizer.tokens") + struct.pack("<IIQ", 9, 8, 2) + _string("a") + _string("bc")
              + _string("ctx") + struct.pack("<II", 4, 2048))  # fmt: skip
    infos = b"".join(_string(n) + struct.pack("<I", len(d)) + struct.pack(f"<{len(d)}Q", *d)
                     + struct.pack("<IQ", kind, 0) for n, d, kind in tensors)  # fmt: skip
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), 3) + values + infos + b"\0" * payload)
    return path


def test_types_are_weighted_by_parameters(tmp_path: Path) -> None:
    f = write_gguf(tmp_path / "m.gguf", [("a", [256, 4], 2), ("b", [256, 12], 8), ("norm", [256], 0)], payload=4096)
    assert tensors(f) == [("Q4_0", 1024), ("Q8_0", 3072), ("F32", 256)]
    mix = tensor_types(f)
    assert list(mix) == ["Q8_0", "Q4_0", "F32"] and mix["Q8_0"] == pytest.approx(3072 / 4352)
    bits = f.stat().st_size * 8 / 4352
    assert describe(f) == f"{bits:.1f} bits/weight: Q8_0 71%, Q4_0 24%, F32 6%"


def test_not_a_gguf_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "x.gguf").write_bytes(b"GGML" + b"\0" * 32)
    with pytest.raises(GGUFError, match="not a GGUF file"):
        tensor_types(tmp_path / "x.gguf")
    good = write_gguf(tmp_path / "cut.gguf", [("a", [4], 0)])
    (tmp_path / "cut.gguf").write_bytes(good.read_bytes()[:40])
    with pytest.raises(GGUFError, match="ends inside its header"):
        tensor_types(tmp_path / "cut.gguf")
