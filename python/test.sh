#!/usr/bin/env bash
# Builds the Python package in a virtual environment (packages from the Python package index
# only) and runs its tests. Without Python 3 or without the index, says so and exits 0: the
# Rust tests do not depend on it.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v python3 >/dev/null 2>&1; then
  echo "python3 not found: the Python package's tests are skipped"
  exit 0
fi
venv=target/python-venv
python3 -m venv "$venv"
# shellcheck disable=SC1091
. "$venv/bin/activate"
if ! pip install -q --upgrade pip numpy pandas scipy pytest >/dev/null 2>&1; then
  echo "the Python package index cannot be reached: the Python package's tests are skipped"
  exit 0
fi
# Shares the Rust build with `cargo test --release` (same profile).
CARGO_TARGET_DIR="$PWD/target" pip install -q ./python
cargo build --release --quiet   # the binary the tests compare with
(cd "$venv" && python -m pytest -q "$OLDPWD/python/tests")
