"""What a GGUF file really holds: the quantization type of each tensor, weighted by its size.

A quantization's name is a request, not a guarantee. For Qwen2.5-Coder-0.5B every "k-quant"
(Q2_K, Q3_K_S, Q4_K_M) falls back to a legacy type for the tensors whose rows (896 wide) are not a
multiple of 256: `llama-quantize Q2_K` gave a file of 61% Q4_0, 17% Q3_K and 22% Q8_0, about the
size of Q3_K_S. The ablation report shows the real mix and the bits per weight, read from the
file's header (no model library needed).
"""

from __future__ import annotations

import struct
from collections import Counter
from pathlib import Path
from typing import BinaryIO

TYPE_NAMES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1", 10: "Q2_K",
    11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS",
    19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32",
    27: "I64", 28: "F64", 29: "IQ1_M", 30: "BF16",
}  # fmt: skip
_VALUE_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9


class GGUFError(ValueError):
    """Not a GGUF file this reader understands."""


def _read(f: BinaryIO, fmt: str) -> tuple[int, ...]:
    size = struct.calcsize("<" + fmt)
    data = f.read(size)
    if len(data) != size:
        raise GGUFError("the file ends inside its header")
    return struct.unpack("<" + fmt, data)


def _skip_string(f: BinaryIO) -> None:
    (n,) = _read(f, "Q")
    f.seek(n, 1)


def _skip_value(f: BinaryIO, kind: int) -> None:
    if kind == _STRING:
        _skip_string(f)
    elif kind == _ARRAY:
        (item, count) = _read(f, "IQ")
        if item == _STRING:
            for _ in range(count):
                _skip_string(f)
        elif item in _VALUE_SIZES:
            f.seek(_VALUE_SIZES[item] * count, 1)
        else:
            raise GGUFError(f"unknown array item type {item}")
    elif kind in _VALUE_SIZES:
        f.seek(_VALUE_SIZES[kind], 1)
    else:
        raise GGUFError(f"unknown value type {kind}")


def tensors(path: Path) -> list[tuple[str, int]]:
    """(type name, parameters) of every tensor, in file order."""
    out: list[tuple[str, int]] = []
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise GGUFError(f"{path.name} is not a GGUF file")
        (version,) = _read(f, "I")
        if version < 2:
            raise GGUFError(f"GGUF version {version} is too old")
        n_tensors, n_values = _read(f, "QQ")
        for _ in range(n_values):
            _skip_string(f)
            (kind,) = _read(f, "I")
            _skip_value(f, kind)
        for _ in range(n_tensors):
            _skip_string(f)
            (dims,) = _read(f, "I")
            params = 1
            for d in _read(f, "Q" * dims):
                params *= d
            (kind, _offset) = _read(f, "IQ")
            out.append((TYPE_NAMES.get(kind, str(kind)), params))
    return out


def tensor_types(path: Path) -> dict[str, float]:
    """Share of the parameters stored in each type, largest first (e.g. {"Q4_0": 0.61, ...})."""
    counts: Counter[str] = Counter()
    for name, params in tensors(path):
        counts[name] += params
    total = sum(counts.values()) or 1
    return {name: n / total for name, n in counts.most_common()}


def describe(path: Path) -> str:
    """ "6.2 bits/weight: Q5_0 62%, Q8_0 22%, ..." (types under 1% left out)."""
    mix = tensor_types(path)
    bits = path.stat().st_size * 8 / max(sum(n for _, n in tensors(path)), 1)
    shown = ", ".join(f"{name} {share:.0%}" for name, share in mix.items() if share >= 0.01)
    return f"{bits:.1f} bits/weight: {shown}"
