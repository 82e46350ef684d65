#!/usr/bin/env bash
# Soak: a mixed workload on every policy (16 threads, random faults, pools created and
# shut down) for a set time; fails if resident memory or the thread count grows after
# the warm-up, or an invariant breaks. Prints the memory/thread curve (one line a minute;
# shorter runs about eight lines). See examples/soak.rs.
#
#   bash scripts/soak.sh [minutes]      (default 10; fractions allowed: 0.5 = 30 s)
#
# SOAK_PROFILE=dev runs the debug build (CI: no release build of the whole crate).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-10}"
seconds=$(awk -v m="$minutes" 'BEGIN { printf "%.0f", m * 60 }')
profile=(--release)
if [ "${SOAK_PROFILE:-release}" = dev ]; then
  profile=()
fi
echo "== soak: ${seconds}s (${SOAK_PROFILE:-release})"
cargo run --quiet "${profile[@]}" --example soak -- --seconds "$seconds"
