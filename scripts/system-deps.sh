#!/usr/bin/env bash
# System packages the project needs (Debian): bubblewrap for sandboxed code execution.
# Idempotent and quiet when everything is present. Needs root (or sudo) only when installing.
set -euo pipefail
PKGS=(bubblewrap)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
if ! command -v apt-get >/dev/null; then
    echo "warning: cannot install ${missing[*]} (no apt-get); sandboxing falls back to plain processes" >&2
    exit 0
fi
echo "Installing system packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
