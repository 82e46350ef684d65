#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a set time each (default 60 s), then
# minimises the corpus into fuzz/corpus/<target>/ (commit what changed).
#
#   bash scripts/fuzz.sh [seconds-per-target] [target...]
#
# 0 seconds only minimises the committed corpus.
#
# No nightly toolchain and no cargo-fuzz needed: the targets are built with the stable
# compiler's own flags for libFuzzer's coverage (the ones cargo-fuzz passes with
# `--sanitizer none`), linked with libFuzzer from the libfuzzer-sys crate (built from its
# C++ sources with the system C++ compiler). With cargo-fuzz installed,
# `cargo fuzz run --sanitizer none <target>` from the repository root works as well.
# CI does not run this: it replays the committed corpus with `cargo test --test fuzz_corpus`.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(json_breaker json_retry json_bulkhead json_limiter json_pool json_time_limiter json_shared abi_sequence)
fi

export RUSTFLAGS="-Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# An explicit --target keeps these flags off build scripts and proc macros (as cargo-fuzz does).
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --manifest-path fuzz/Cargo.toml --bins --target "$host"
bin=fuzz/target/$host/release

summary=()
for t in "${targets[@]}"; do
  corpus="fuzz/corpus/$t"
  work="fuzz/corpus-new/$t"
  mkdir -p "$corpus" "$work" fuzz/artifacts/$t
  echo "== $t: ${secs}s"
  log="fuzz/artifacts/$t/run.log"
  # Short inputs: a JSON configuration or about 1000 calls is plenty.
  maxlen=512
  [ "$t" = abi_sequence ] && maxlen=1024
  : >"$log"
  execs=0 cov='?'
  if [ "$secs" != 0 ]; then
    # New inputs go to $work; the committed corpus is read as seeds.
    "$bin/$t" "$work" "$corpus" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
      -max_len="$maxlen" -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 >"$log" 2>&1 || {
      echo "$t: the fuzzer stopped on a finding:"; tail -40 "$log"; exit 1; }
    execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo '?')
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+' || echo '?')
  fi
  # Minimise: a small set of inputs that covers what both folders cover (set cover, not
  # one file per feature), inputs cut to max_len.
  min="fuzz/corpus-new/$t.min"
  rm -rf "$min"; mkdir -p "$min"
  "$bin/$t" -set_cover_merge=1 -max_len="$maxlen" "$min" "$corpus" "$work" >>"$log" 2>&1
  rm -rf "$corpus"; mv "$min" "$corpus"
  n=$(ls "$corpus" | wc -l)
  summary+=("$t: $execs executions in ${secs}s, coverage $cov, corpus $n files")
done
echo "== summary"
printf '%s\n' "${summary[@]}"
