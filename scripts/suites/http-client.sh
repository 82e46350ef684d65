#!/usr/bin/env bash
# The resilient HTTP client: its Prometheus export read back by prometheus_client (installed
# first, so the test cannot skip), and the outage exercise over real HTTP on loopback (exits
# non-zero unless closed -> open -> half-open -> open -> half-open -> closed happened).
set -euo pipefail
cd "$(dirname "$0")/../.."

echo "== http client: Prometheus export through prometheus_client"
if ! python3 -c "import prometheus_client" >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check prometheus_client
fi
BW_REQUIRE_PROMETHEUS=1 cargo test --all-features --test http_client_metrics

echo "== http client: the outage exercise over loopback HTTP"
cargo run --quiet --release --example outage > /dev/null
