#!/usr/bin/env bash
# The whole test suite: installs what the harness needs (database servers, build headers)
# when missing and allowed, then checks formatting and lints and runs every test —
# with every cargo feature, so the optional pieces (connectorx, oracle) are built and tested.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo fmt --all -- --check
cargo clippy --all-targets --all-features --quiet -- -D warnings
cargo test --all-targets --all-features
