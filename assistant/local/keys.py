"""The key of a llama-server we start: only its clients know it.

llama-server answers any origin's CORS preflight (and, by default, with credentials allowed), so
without a key any web page open in the user's browser could use a server on a loopback port, and
any local program could read its slots. Each server we start therefore gets a fresh random key:

* it reaches llama-server through ``--api-key-file``: a 0600 file in a 0700 folder under the
  private data directory, removed as soon as the server has read it (never on the command line,
  where ``ps`` shows it to every user);
* every client of that server sends it (``Authorization: Bearer``): the endpoint, the health and
  reuse probes, ``/tokenize``, ``/metrics``, ``/slots``; a served model's key is kept in its 0600
  state file so later commands can reuse it.

llama-server then refuses everything but ``/health`` without it (401). Where the build has the
flags, CORS is also narrowed to the server's own origin, without credentials.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import subprocess
from pathlib import Path

KEY_BYTES = 32  # 256 bits, url-safe base64: 43 characters


def new_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def auth_headers(api_key: str | None) -> dict[str, str]:
    """The header llama-server checks (``--api-key``); none without a key."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def keys_dir() -> Path:
    from assistant.paths import data_dir, private_dir

    return private_dir(data_dir() / "run" / "keys")


def write_key_file(api_key: str) -> Path:
    """A new 0600 file holding ``api_key`` (one line), in a 0700 folder; the caller removes it."""
    directory = keys_dir()
    st = directory.stat()
    if st.st_uid != os.geteuid() or st.st_mode & 0o077:
        raise OSError(f"{directory} is not private to this user")
    for _ in range(5):
        path = directory / f"llama-server-{os.getpid()}-{secrets.token_hex(6)}.key"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(api_key + "\n")
        return path
    raise OSError(f"could not create a key file in {directory}")


def remove_key_file(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink()


def cors_args(binary: Path, port: int) -> list[str]:
    """Flags that limit CORS to the server's own origin, without credentials (if this build has them)."""
    flags = _help_flags(str(binary))
    args: list[str] = []
    if "--cors-origins" in flags:
        args += ["--cors-origins", f"http://127.0.0.1:{port}"]
    if "--no-cors-credentials" in flags:
        args.append("--no-cors-credentials")
    return args


@functools.lru_cache(maxsize=8)
def _help_flags(binary: str) -> frozenset[str]:
    """The long options ``binary --help`` lists (empty if it does not answer)."""
    try:
        done = subprocess.run([binary, "--help"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    text = (done.stdout + done.stderr).decode("utf-8", "replace")
    return frozenset(word.rstrip(",") for word in text.split() if word.startswith("--"))
