"""Confinement to a workspace root, shared by the built-in tool servers.

A path is accepted when it resolves (symlinks followed) to the root or to
something below it. Relative paths are taken from the root; absolute paths
must already point inside it. ``..`` that climbs out, an absolute path
elsewhere, and a symlink whose target lies outside are all refused, each with
a message that says which rule it broke.
"""

from __future__ import annotations

import os
from pathlib import Path


class OutsideWorkspace(PermissionError):
    """A path that would leave the workspace root."""


def workspace_root(root: str | os.PathLike[str] | None) -> Path:
    path = Path(root) if root else Path.cwd()
    resolved = path.expanduser().resolve()
    if not resolved.is_dir():
        raise NotADirectoryError(f"workspace root {resolved} is not a folder")
    return resolved


def is_inside(root: Path, path: Path) -> bool:
    return path == root or root in path.parents


def resolve_inside(root: Path, path: str) -> Path:
    """The real path of ``path`` (relative to ``root``), or OutsideWorkspace."""
    if "\x00" in path:
        raise OutsideWorkspace("path contains a NUL byte")
    raw = Path(path or ".")
    candidate = raw if raw.is_absolute() else root / raw
    lexical = Path(os.path.normpath(candidate))
    if not is_inside(root, lexical):
        if raw.is_absolute():
            raise OutsideWorkspace(f"'{path}' is an absolute path outside the workspace {root}")
        raise OutsideWorkspace(f"'{path}' climbs out of the workspace {root} with '..'")
    resolved = candidate.resolve()
    if not is_inside(root, resolved):
        raise OutsideWorkspace(f"'{path}' goes through a symlink to {resolved}, outside the workspace {root}")
    return resolved


def relative(root: Path, path: Path) -> str:
    """``path`` as shown to the model: relative to the root, with forward slashes."""
    try:
        rel = path.relative_to(root)
    except ValueError:
        return str(path)
    return rel.as_posix() or "."
