#!/usr/bin/env bash
# Stable performance ratios (issue 13): the same guarded no-op through breakwater and
# each peer, counted in instructions with valgrind's callgrind (repeatable whatever else
# the machine runs), with wall-clock figures beside them (best of N interleaved rounds,
# which move with the load). One command:
#
#   bash scripts/bench-ratios.sh            # everything
#   RATIOS_ONLY="rust c" bash scripts/bench-ratios.sh   # a subset: rust c python go
#
# Rust: breaker vs failsafe 1.3 and recloser 1.4, limiter vs governor 0.10
#   (benches/ratios/rust.rs; callgrind collects inside `measured`, K calls, divided by K).
# C ABI vs the Rust raw protocol (benches/ratios/cases.c against the shared library).
# Python binding vs pybreaker 1.4.1 (installed into a venv under target/bench-ratios;
#   callgrind counts two runs of K1 and K2 calls: (I2 - I1) / (K2 - K1)).
# Go binding vs gobreaker v2 (a module in a temporary folder; callgrind collects inside
#   main.measured).
# Not a test: nothing fails on a ratio. Needs valgrind; Python, Go are skipped if absent.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
only="${RATIOS_ONLY:-rust c python go}"
out=target/bench-ratios
mkdir -p "$out"
results="$out/results.txt"
: >"$results"
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }

# callgrind instructions per call: count_toggle OUTNAME K PATTERN cmd...
count_toggle() {
  local name=$1 k=$2 pattern=$3
  shift 3
  if ! valgrind --tool=callgrind --toggle-collect="$pattern" --callgrind-out-file="$out/cg.$name.out" \
    "$@" >/dev/null 2>"$out/cg.$name.log"; then
    echo "$name: callgrind failed (see $out/cg.$name.log)" >&2
    return 0
  fi
  awk -v k="$k" -v n="$name" '/^summary:/ { printf "%s %.1f\n", n, $2 / k }' "$out/cg.$name.out"
}
# Differential: total instructions at K2 calls minus at K1 calls, per call.
count_diff() {
  local name=$1 k1=$2 k2=$3
  shift 3
  local t1 t2
  valgrind --tool=callgrind --callgrind-out-file="$out/cg.$name.1.out" "$@" "$k1" >/dev/null 2>&1
  valgrind --tool=callgrind --callgrind-out-file="$out/cg.$name.2.out" "$@" "$k2" >/dev/null 2>&1
  t1=$(awk '/^summary:/ { print $2 }' "$out/cg.$name.1.out")
  t2=$(awk '/^summary:/ { print $2 }' "$out/cg.$name.2.out")
  awk -v a="$t1" -v b="$t2" -v k1="$k1" -v k2="$k2" -v n="$name" 'BEGIN { printf "%s %.1f\n", n, (b - a) / (k2 - k1) }'
}

echo "== building (release)" >&2
cargo build --release --lib >&2
rust_bin=$(cargo bench --bench ratios --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)

if [[ " $only " == *" rust "* ]]; then
  echo "== Rust: callgrind" >&2
  for c in $("$rust_bin" list); do
    count_toggle "$c" 100000 '*measured*' "$rust_bin" count "$c" 100000 | sed 's/^/ir /' >>"$results"
  done
  echo "== Rust: wall clock (best of 7 interleaved rounds of 2,000,000 calls)" >&2
  "$rust_bin" wall 7 2000000 | awk '{ print "ns", $1, $2; print "alloc", $1, $3 }' >>"$results"
fi

if [[ " $only " == *" c "* ]]; then
  echo "== C ABI: callgrind and wall clock" >&2
  cc -std=c11 -O2 -Iinclude benches/ratios/cases.c -o "$out/cases_c" \
    -Ltarget/release -lbreakwater -Wl,-rpath,"$repo/target/release"
  for c in $("$out/cases_c" list); do
    count_toggle "$c" 100000 measured "$out/cases_c" count "$c" 100000 | sed 's/^/ir /' >>"$results"
  done
  "$out/cases_c" wall 7 2000000 | sed 's/^/ns /' >>"$results"
fi

if [[ " $only " == *" python "* ]]; then
  echo "== Python: venv with pybreaker 1.4.1" >&2
  if [ ! -x "$out/venv/bin/python" ]; then
    python3 -m venv "$out/venv" >&2
  fi
  "$out/venv/bin/python" -c 'import pybreaker' 2>/dev/null \
    || "$out/venv/bin/pip" install --quiet pybreaker==1.4.1 >&2
  py=("$out/venv/bin/python" benches/ratios/cases.py)
  export PYTHONPATH="$repo/bindings/python" PYTHONHASHSEED=0
  unset BREAKWATER_LIB
  echo "== Python: callgrind (differential, 2,000 and 12,000 calls)" >&2
  for c in $("${py[@]}" list); do
    count_diff "$c" 2000 12000 "${py[@]}" count "$c" | sed 's/^/ir /' >>"$results"
  done
  echo "== Python: wall clock (best of 7 interleaved rounds of 100,000 calls)" >&2
  "${py[@]}" wall 7 100000 | sed 's/^/ns /' >>"$results"
fi

if [[ " $only " == *" go "* ]] && command -v go >/dev/null 2>&1; then
  echo "== Go: module in a temporary folder, gobreaker v2" >&2
  gotmp=$(mktemp -d)
  trap 'rm -rf "$gotmp"' EXIT
  cp benches/ratios/go/main.go "$gotmp/"
  source scripts/dev-prefix.sh  # the binding links the static library through pkg-config
  cat >"$gotmp/go.mod" <<GOMOD
module ratios

go 1.24

require (
	github.com/breakwater-rs/breakwater/bindings/go v0.0.0
	github.com/sony/gobreaker/v2 v2.4.0
)

replace github.com/breakwater-rs/breakwater/bindings/go => $repo/bindings/go
GOMOD
  (cd "$gotmp" && go mod tidy >&2 && CGO_ENABLED=1 go build -o "$repo/$out/cases_go" .) >&2
  # No asynchronous preemption (its signals trip callgrind), one P, no GC cycles.
  export GOMAXPROCS=1 GOGC=off GODEBUG=asyncpreemptoff=1
  # The median of three runs: under valgrind a cgo call looks long to the Go scheduler,
  # which may hand the P away and take the slow way back (extra instructions, not ours);
  # and once in a while the switch of stacks makes callgrind lose track of
  # main.measured and stop counting (a run far too low, 32 instructions a rejection).
  echo "== Go: callgrind (median of 3 runs)" >&2
  for c in $("$out/cases_go" list); do
    for i in 1 2 3; do
      count_toggle "$c" 20000 main.measured "$out/cases_go" count "$c" 20000
    done | sort -k2 -g | sed -n 2p | sed 's/^/ir /' >>"$results"
  done
  unset GOGC GODEBUG
  echo "== Go: wall clock (best of 500 interleaved runs of 10,000 calls)" >&2
  GOMAXPROCS=2 "$out/cases_go" wall 5 1000000 | sed 's/^/ns /' >>"$results"
fi

python3 - "$results" <<'PY'
import sys
ir, ns, alloc = {}, {}, {}
for line in open(sys.argv[1]):
    kind, name, value = line.split()
    {"ir": ir, "ns": ns, "alloc": alloc}[kind][name] = float(value)

rows = [
    ("Rust closed success", "bw_closed_success", ["failsafe_closed_success", "recloser_closed_success"]),
    ("Rust open rejection", "bw_open_rejection", ["failsafe_open_rejection", "recloser_open_rejection"]),
    ("Rust time-window rate, success", "bw_time_rate_success", ["failsafe_time_rate_success"]),
    ("Rust limiter, granted", "bw_limiter_granted", ["governor_granted"]),
    ("Rust limiter, rejected", "bw_limiter_rejected", ["governor_rejected"]),
    ("C acquire+record vs Rust raw", "c_acquire_record", ["bw_raw_acquire_record"]),
    ("C rejection vs Rust raw", "c_rejection", ["bw_raw_rejection"]),
    ("C admit rejection vs Rust raw", "c_admit_rejection", ["bw_raw_rejection"]),
    ("Python call() success", "py_bw_closed_success", ["py_pybreaker_closed_success"]),
    ("Python rejection", "py_bw_open_rejection", ["py_pybreaker_open_rejection"]),
    ("Go Execute success", "go_bw_closed_success", ["go_gobreaker_closed_success"]),
    ("Go rejection", "go_bw_open_rejection", ["go_gobreaker_open_rejection"]),
]
def f(d, k, fmt="{:.1f}"):
    return fmt.format(d[k]) if k in d else "-"
def ratio(d, a, b):
    return f"{d[b] / d[a]:.2f}x" if a in d and b in d and d[a] > 0 else "-"
print()
print("Per call. instr = instructions (callgrind, the loop and the guarded no-op included: see the")
print("baseline rows); ns = best wall-clock of the interleaved rounds; ratio = peer / breakwater")
print("(above 1: breakwater cheaper).")
print()
print("| case | breakwater instr | peer | peer instr | instr ratio | breakwater ns | peer ns | wall ratio |")
print("|---|---:|---|---:|---:|---:|---:|---:|")
for title, ours, peers in rows:
    for peer in peers:
        if ours not in ir and ours not in ns:
            continue
        print(f"| {title} | {f(ir, ours)} | {peer} | {f(ir, peer)} | {ratio(ir, ours, peer)} "
              f"| {f(ns, ours, '{:.2f}')} | {f(ns, peer, '{:.2f}')} | {ratio(ns, ours, peer)} |")
print()
print("| baseline (loop + guarded no-op) | instr | ns |")
print("|---|---:|---:|")
for b in ["baseline_noop", "c_baseline_noop", "py_baseline_noop", "go_baseline_noop"]:
    if b in ir or b in ns:
        print(f"| {b} | {f(ir, b)} | {f(ns, b, '{:.2f}')} |")
if alloc:
    worst = max(alloc.values())
    print()
    print("Rust allocations per call, every case: " + ("none" if worst == 0 else
          ", ".join(f"{k} {v:.3f}" for k, v in alloc.items() if v > 0)))
PY
