#!/usr/bin/env bash
# Binding benchmarks (not part of the test suites): the per-call overhead of a guarded
# no-op through the circuit breaker, closed (success) and open (rejection):
#   C (shared library) vs the Rust API, same timing loop, same run;
#   Python (ctypes) vs pybreaker 1.4.1 (`pip install pybreaker==1.4.1`);
#   Go (cgo) vs sony/gobreaker v2 (a `go test -bench` in benches/bindings/go, its own
#   module, so the binding itself has no third-party dependency).
# Prints a table of ns/op. Usage: bash benches/bindings/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

results=$(mktemp)
trap 'rm -f "$results"' EXIT

echo "== building the library (release)" >&2
cargo build --release --lib >&2

echo "== C" >&2
mkdir -p target/bench-bindings
cc -std=c11 -O2 -Iinclude benches/bindings/bench_c.c -o target/bench-bindings/bench_c \
  -Ltarget/release -lbreakwater -Wl,-rpath,"$PWD/target/release"
target/bench-bindings/bench_c | tee -a "$results" >&2

echo "== Rust" >&2
cargo bench --bench bindings_breaker 2>/dev/null | grep '^rust_' | tee -a "$results" >&2

echo "== Python" >&2
if python3 -c "import pybreaker" 2>/dev/null; then
  env -u BREAKWATER_LIB PYTHONPATH="$PWD/bindings/python" python3 benches/bindings/bench_python.py \
    | tee -a "$results" >&2
else
  echo "pybreaker is not installed (pip install pybreaker==1.4.1): Python skipped" >&2
fi

echo "== Go" >&2
if command -v go >/dev/null 2>&1; then
  source scripts/dev-prefix.sh  # the binding links the static library via pkg-config
  # Best of 5 runs of each benchmark (as Python's best of 7): load from other processes
  # only ever adds time.
  (cd benches/bindings/go && CGO_ENABLED=1 go test -run '^$' -bench . -benchtime 1s -count 5) \
    | awk '/^Benchmark/ { name=$1; sub(/-[0-9]+$/, "", name);
                          if (!(name in best) || $3 + 0 < best[name] + 0) best[name] = $3 }
           END { for (n in best) print "go_" n, best[n] }' \
    | tee -a "$results" >&2
else
  echo "go is not installed: Go skipped" >&2
fi

get() { awk -v k="$1" '$1 == k { print $2 }' "$results"; }
row() { printf '| %-30s | %12s | %12s |\n' "$1" "${2:--}" "${3:--}"; }

echo
printf '| %-30s | %12s | %12s |\n' "per call (ns)" "breakwater" "reference"
printf '|%s|%s|%s|\n' "--------------------------------" "--------------" "--------------"
row "Rust API: closed success" "$(get rust_protocol_success)" ""
row "Rust API: call() success" "$(get rust_call_success)" ""
row "Rust API: rejection" "$(get rust_rejection)" ""
row "C: acquire+record success" "$(get c_protocol_success)" "Rust $(get rust_protocol_success)"
row "C: bw_breaker_call success" "$(get c_call_success)" "Rust $(get rust_call_success)"
row "C: rejection" "$(get c_rejection)" "Rust $(get rust_rejection)"
row "C: rejection, bw_breaker_admit" "$(get c_admit_rejection)" "Rust $(get rust_rejection)"
row "Python: call() success" "$(get python_breakwater_success)" "pybreaker $(get python_pybreaker_success)"
row "Python: rejection" "$(get python_breakwater_rejection)" "pybreaker $(get python_pybreaker_rejection)"
row "Go: Execute success" "$(get go_BenchmarkBreakwaterSuccess)" "gobreaker $(get go_BenchmarkGobreakerSuccess)"
row "Go: rejection" "$(get go_BenchmarkBreakwaterRejection)" "gobreaker $(get go_BenchmarkGobreakerRejection)"
