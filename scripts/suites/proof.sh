#!/usr/bin/env bash
# Proof suite (issue 13): the model-based property tests at CI size, the fuzz corpus
# replayed through the fuzz targets' functions (stable, no libFuzzer), and a 30 s soak.
# Long runs: scripts/prop-long.sh, scripts/fuzz.sh, scripts/soak.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."

echo "== proof: property tests (PROPTEST_CASES=${PROPTEST_CASES:-default}) and fuzz corpus replay"
cargo test --all-features --test prop_breaker --test prop_bulkhead --test prop_ratelimit \
  --test prop_retry --test fuzz_corpus

echo "== proof: soak"
SOAK_PROFILE=dev bash scripts/soak.sh 0.5
