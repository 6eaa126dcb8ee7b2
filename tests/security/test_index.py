"""Finding 10: FIFOs and devices cannot block `assistant index`."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from assistant.retrieval.indexer import collect


@pytest.mark.timeout(30)
def test_fifos_and_devices_are_skipped_not_read(ws: Path) -> None:
    os.mkfifo(ws / "pipe.txt")
    os.mknod(ws / "zero.txt", stat.S_IFCHR | 0o600, os.makedev(1, 5))
    (ws / "console.md").symlink_to("/dev/console")
    files, problems = collect([ws])
    assert files == [ws / "notes.txt"]
    skipped = {Path(p).name for p, why in problems if "not a regular file" in why}
    assert skipped == {"pipe.txt", "zero.txt", "console.md"}


@pytest.mark.timeout(30)
def test_kernel_folders_are_never_walked(tmp_path: Path) -> None:
    files, _ = collect([Path("/dev")])
    assert files == [], "nothing under /dev is indexed"
