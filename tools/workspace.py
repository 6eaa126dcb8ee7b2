"""Confinement to a workspace root, shared by the built-in tool servers.

A path is accepted when it resolves (symlinks followed) to the root or to
something below it. Relative paths are taken from the root; absolute paths
must already point inside it. ``..`` that climbs out, an absolute path
elsewhere, and a symlink whose target lies outside are all refused, each with
a message that says which rule it broke.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
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
    try:
        resolved = candidate.resolve()
    except (RuntimeError, OSError) as exc:  # a symlink loop (RuntimeError before Python 3.13)
        raise OutsideWorkspace(f"'{path}' cannot be resolved: {exc}") from None
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


# ---------------------------------------------------------------------------------------------
# Opening without a check-then-use race
# ---------------------------------------------------------------------------------------------
#
# ``resolve_inside`` checks a path; between that check and the open a concurrent process (a
# sandboxed command in the same workspace) could swap a folder for a symlink to the outside.
# So files are opened relative to a descriptor of the root, one component at a time, each with
# O_NOFOLLOW: the checked path has no symlink left in it (it is the resolved one), so a symlink
# met while opening can only be such a swap, and the open fails instead of following it.

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafeFile(PermissionError):
    """A file that may not be opened: not a regular file, hard-linked for a write, or swapped while opening."""


def open_root(root: Path) -> int:
    """A descriptor of the workspace root, held for the server's life."""
    return os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def _parts(root: Path, real: Path) -> list[str]:
    rel = real.relative_to(root)
    return [p for p in rel.parts if p not in ("", ".")]


def _open_dirs(root_fd: int, parts: list[str], create: bool) -> int:
    fd = os.dup(root_fd)
    try:
        for part in parts:
            try:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nxt
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafeFile("a folder on the path changed into a symlink or a file while it was opened") from None
        raise
    return fd


def _swapped(exc: OSError) -> UnsafeFile:
    return UnsafeFile("the file changed into a symlink while it was opened")


def read_beneath(root_fd: int, root: Path, real: Path, limit: int | None = None) -> bytes:
    """The bytes of the regular file ``real`` (a checked path under ``root``), opened without following
    symlinks; a FIFO, socket or device is refused at once (never blocks)."""
    parts = _parts(root, real)
    if not parts:
        raise IsADirectoryError("the workspace root is a folder")
    dir_fd = _open_dirs(root_fd, parts[:-1], create=False)
    try:
        try:
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY,
                         dir_fd=dir_fd)  # fmt: skip
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _swapped(exc) from None
            raise
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fh.fileno()).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError("it is a folder")
        if not stat.S_ISREG(mode):
            raise UnsafeFile(f"it is not a regular file ({_kind(mode)}); not read")
        return fh.read() if limit is None else fh.read(limit)


def write_beneath(root_fd: int, root: Path, real: Path, data: bytes) -> None:
    """Write ``data`` as the whole content of ``real`` (creating it and its folders), without following
    symlinks; a file with other hard links (which may be outside the workspace) is refused."""
    parts = _parts(root, real)
    if not parts:
        raise IsADirectoryError("the workspace root is a folder")
    dir_fd = _open_dirs(root_fd, parts[:-1], create=True)
    try:
        base = os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
        try:
            fd = os.open(parts[-1], base, dir_fd=dir_fd)
        except FileNotFoundError:
            fd = os.open(parts[-1], base | os.O_CREAT | os.O_EXCL, 0o666, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _swapped(exc) from None
            raise
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "wb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeFile(f"it is not a regular file ({_kind(st.st_mode)}); not written")
        if st.st_nlink > 1:
            raise UnsafeFile(f"it has {st.st_nlink} hard links, which may lead outside the workspace; not written")
        fh.truncate(0)
        fh.write(data)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):  # fmt: skip
        if test(mode):
            return name
    return "not a regular file"
