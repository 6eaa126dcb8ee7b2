"""Where our per-user files live."""

from __future__ import annotations

import os
import re
from pathlib import Path


def data_dir() -> Path:
    """Root of our per-user data: ``$ASSISTANT_DATA_DIR`` or the platform's user data dir.

    Private to this user (0700): history, approvals, traces and logs inside it are nobody else's.
    """
    override = os.environ.get("ASSISTANT_DATA_DIR")
    if override:
        return private_dir(Path(override).expanduser())
    import platformdirs

    return private_dir(Path(platformdirs.user_data_dir("assistant")))


def private_dir(path: Path) -> Path:
    """``path`` created if needed, and made 0700 if it is ours and open to others."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = path.stat()
        if st.st_uid == os.geteuid() and st.st_mode & 0o077:
            os.chmod(path, 0o700)
    except OSError:
        pass  # reported by whoever writes into it
    return path


def private_file(path: Path) -> None:
    """Make an existing file of ours 0600."""
    try:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    except OSError:
        pass


_SECRET_PARAM = re.compile(r"(key|token|secret|sig|auth|pass|pwd|credential)", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` without secrets: the password of ``user:pass@``, and the values of query parameters that
    look like keys or tokens (``?api_key=...``, ``?token=...``) become ``***``."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        netloc = ("***" if ":" not in userinfo else userinfo.split(":", 1)[0] + ":***") + "@" + host
    query = parts.query
    if query:
        pairs = [(k, "***" if _SECRET_PARAM.search(k) else v) for k, v in parse_qsl(query, keep_blank_values=True)]
        query = urlencode(pairs, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
