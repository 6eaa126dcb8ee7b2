import os
import sys

# `python -m assistant` puts the current folder first on sys.path: drop it, so that nothing in the
# workspace can shadow a module imported later (the in-process tool servers, the MCP SDK, ...).
_here = os.getcwd()
sys.path[:] = [p for p in sys.path if p not in ("", _here)]

from assistant.cli import main  # noqa: E402

main()
