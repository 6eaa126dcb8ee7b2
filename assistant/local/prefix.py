"""The prompt prefix (system prompt + tool schemas) of a llama-server we started, kept on disk.

On a CPU the first request of a fresh server spends most of its time evaluating that prefix
(~1,700 tokens with the default tools). llama-server can save a slot's KV cache to a file and
restore it (``--slot-save-path``, ``POST /slots/{id}?action=save|restore``), so:

* before the first request of a server we own, the file for this model and this exact prefix
  (a hash of the model's sha256, the system prompt and the tool schemas) is restored into the
  slot our requests go to (``id_slot``), and llama-server reuses it (``cache_n`` in its timings);
* without such a file, the slot is saved after the first turn, for the next cold start.

A file that is not ours (no matching sidecar) or that llama-server refuses (corrupt, another model
or another build) is ignored with one line and removed; the prefix is then evaluated afresh.
The saved slot holds the whole first request (the question and answer too), so the files live
in the private data folder, next to the history.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

FORMAT = 1
SLOT = 0  # the slot our requests go to on a server we own (it serves no one else)


def slots_dir() -> Path:
    from assistant.paths import data_dir

    return data_dir() / "slots"


def prefix_key(model_sha256: str, system_prompt: str | None, tools: list[dict[str, Any]]) -> str:
    what = json.dumps([FORMAT, model_sha256, system_prompt or "", tools], ensure_ascii=False)
    return hashlib.sha256(what.encode("utf-8", "surrogatepass")).hexdigest()[:24]


class PrefixCache:
    """Save and restore one slot of one llama-server, keyed by prompt prefix."""

    def __init__(self, root_url: str, model_sha256: str, *, directory: Path | None = None, slot: int = SLOT,
                 status: Callable[[str], None] | None = None, api_key: str | None = None) -> None:  # fmt: skip
        self.root_url = root_url.rstrip("/")
        self.api_key = api_key  # the server's key (assistant/local/keys.py)
        self.model_sha256 = model_sha256
        self.directory = directory or slots_dir()
        self.slot = slot
        self.status = status or (lambda _line: None)
        self.restored_tokens: int | None = None

    def _paths(self, key: str) -> tuple[Path, Path]:
        name = f"prefix-{key}.bin"
        return self.directory / name, self.directory / f"{name}.json"

    def _drop(self, key: str) -> None:
        for path in self._paths(key):
            with contextlib.suppress(OSError):
                path.unlink()

    def has(self, key: str) -> bool:
        return self._paths(key)[0].exists()

    def _ours(self, key: str) -> bool:
        try:
            meta = json.loads(self._paths(key)[1].read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(meta, dict) and meta.get("model_sha256") == self.model_sha256 and meta.get("key") == key

    async def _post(self, action: str, filename: str) -> tuple[int, Any]:
        url = f"{self.root_url}/slots/{self.slot}?action={action}"
        from assistant.local.keys import auth_headers

        timeout = httpx.Timeout(60.0, connect=2.0)
        async with httpx.AsyncClient(timeout=timeout, headers=auth_headers(self.api_key), trust_env=False) as client:
            resp = await client.post(url, json={"filename": filename})
        try:
            return resp.status_code, resp.json()
        except ValueError:
            return resp.status_code, resp.text

    async def restore(self, key: str) -> int | None:
        """Restore the saved prefix into our slot; the number of tokens restored, or None."""
        data, _ = self._paths(key)
        if not data.exists():
            return None
        if not self._ours(key):
            self.status(f"slot cache {data.name} was not saved for this model and prompt; ignored, "
                        "the prompt prefix is evaluated afresh")  # fmt: skip
            self._drop(key)
            return None
        try:
            code, body = await self._post("restore", data.name)
        except httpx.HTTPError as exc:
            self.status(f"could not restore the slot cache ({type(exc).__name__}); "
                        "the prompt prefix is evaluated afresh")  # fmt: skip
            return None
        if code != 200 or not isinstance(body, dict):
            self.status(f"slot cache {data.name} could not be restored ({_detail(body)}); ignored and removed, "
                        "the prompt prefix is evaluated afresh")  # fmt: skip
            self._drop(key)
            return None
        n = body.get("n_restored")
        self.restored_tokens = n if isinstance(n, int) else None
        return self.restored_tokens

    async def save(self, key: str) -> bool:
        """Save our slot (after a request with this prefix) for the next cold start."""
        data, meta = self._paths(key)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            code, body = await self._post("save", data.name)
        except (OSError, httpx.HTTPError):
            return False
        if code != 200:
            return False
        with contextlib.suppress(OSError):
            meta.write_text(json.dumps({"format": FORMAT, "model_sha256": self.model_sha256, "key": key,
                                        "n_saved": body.get("n_saved") if isinstance(body, dict) else None}),
                            encoding="utf-8")  # fmt: skip
            return True
        return False


def _detail(body: Any) -> str:
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return " ".join(str(err["message"]).split())[:160]
    return " ".join(str(body).split())[:160]
