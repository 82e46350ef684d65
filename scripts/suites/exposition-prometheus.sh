#!/usr/bin/env bash
# Reads the Prometheus exposition text back with the Python reference parser
# (prometheus_client), installing it first; the Rust test refuses to skip here.
set -euo pipefail
cd "$(dirname "$0")/../.."

echo "== exposition: prometheus_client parser round trip"
if ! python3 -c "import prometheus_client" >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check prometheus_client
fi
BW_REQUIRE_PROMETHEUS=1 cargo test --all-features --test exposition_prometheus
