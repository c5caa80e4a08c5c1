#!/usr/bin/env bash
# The whole test suite: installs the database servers the harness starts (when missing
# and allowed), then runs every test, including the throwaway PostgreSQL and MariaDB ones.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --all-targets
