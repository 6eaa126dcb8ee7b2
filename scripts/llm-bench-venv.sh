#!/usr/bin/env bash
# A separate virtualenv with `llm` (PyPI), the peer the benchmarks compare against.
# Not a project dependency: it lives in benchmarks/.llm-venv and only the benchmarks use it.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-$here/benchmarks/.llm-venv}"
python="${PYTHON:-python3}"
if [ -x "$venv/bin/llm" ]; then
    echo "llm already installed in $venv"
    exit 0
fi
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q "llm==0.36"
"$venv/bin/llm" --version
