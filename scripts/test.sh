#!/usr/bin/env bash
# Runs every test of siohub: installs what the tests need (the pinned Node and Python
# Socket.IO clients), checks formatting and lints, then runs the whole workspace's tests
# (unit, property, integration with real clients), the doc tests, and a brief run of the
# benchmark's load generator that checks counts (never speed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "== installing the real clients (npm ci, python venv)"
tests/clients/setup.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== the benchmark's load generator (the dashboard's 8,000-connection test uses it)"
cargo build --locked --manifest-path bench/Cargo.toml -p loadgen

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi

echo "== doc tests"
cargo test --workspace --doc

echo "== benchmark smoke run (counts, not speed)"
bench/smoke.sh target/debug/siohub

echo "== all tests passed"
