#!/usr/bin/env bash
# A C++ compiler and Python's headers (Debian), for the one dependency PyPI ships only as source:
# pyworld, the WORLD vocoder behind `mirnet corpus transform`. Runs before the venv is made.
set -euo pipefail
python=${1:-python3}
include=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
command -v g++ >/dev/null && [ -f "$include/Python.h" ] && exit 0
# shellcheck source=scripts/apt.sh
. "$(dirname "$0")/apt.sh"
apt_update
apt_install g++ python3-dev
echo "build tools ready: $(g++ --version | head -1)"
