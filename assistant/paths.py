"""Where our per-user files live."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """Root of our per-user data: ``$ASSISTANT_DATA_DIR`` or the platform's user data dir."""
    override = os.environ.get("ASSISTANT_DATA_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("assistant"))
