#!/usr/bin/env bash
# The long run of the model-based property tests: 1,000,000 sequences each (or
# PROPTEST_CASES), release build. CI runs the same tests at their default size through
# `cargo test`.
#
#   bash scripts/prop-long.sh [cases]
set -euo pipefail
cd "$(dirname "$0")/.."
export PROPTEST_CASES="${1:-${PROPTEST_CASES:-1000000}}"
for t in prop_breaker prop_bulkhead prop_ratelimit prop_retry; do
  echo "== $t: $PROPTEST_CASES cases"
  start=$(date +%s)
  cargo test --quiet --release --test "$t"
  echo "$t: $PROPTEST_CASES cases passed in $(( $(date +%s) - start )) s"
done
