"""Children that must react to Ctrl-C: a CI shell that starts the run in the background passes
SIGINT on as ignored, and exec keeps that; the child takes the default disposition back."""

from __future__ import annotations

import signal


def default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
