#!/usr/bin/env bash
# C suite: builds the library (release profile, like every binding suite), compiles each
# ffi-tests/c/test_*.c program against the shared library and against the static
# library, runs both, then runs them under AddressSanitizer (static library) and under
# valgrind memcheck (shared and static), which must report zero errors. Also checks that
# the header compiles and links as C++.
#
# Under CI=true a missing compiler or valgrind fails the suite instead of skipping it.
set -euo pipefail
cd "$(dirname "$0")/../.."

source scripts/need.sh

echo "== C: ffi-tests/c"
need cc "the C suite" || exit 0
need c++ "the C suite" || exit 0
need valgrind "the C suite" || exit 0

cargo build --release --lib --features redis  # the library as shipped (Makefile, wheel)
lib_dir="$PWD/target/release"
out="$PWD/target/ffi-tests/c"
mkdir -p "$out"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)

cflags=(-std=c11 -Wall -Wextra -Werror -pedantic -g -O1 -Iinclude -Iffi-tests/c
  "-DBW_EXPECTED_VERSION=\"$version\"")
# What a Rust static library needs from the system (rustc --print native-static-libs).
static_libs=(-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc)

run() {
  local label=$1
  shift
  echo "-- $label"
  "$@"
}

# test_redis.supp: std's handle of a C thread, allocated once when a shared breaker
# (feature redis, in the library as shipped) wakes its worker from that thread.
memcheck=(valgrind --quiet --tool=memcheck --leak-check=full
  --errors-for-leak-kinds=definite,possible --error-exitcode=1
  --suppressions=ffi-tests/c/test_redis.supp)

for src in ffi-tests/c/test_*.c; do
  name=$(basename "$src" .c)
  cc "${cflags[@]}" "$src" -o "$out/$name.shared" \
    -L"$lib_dir" -lbreakwater -Wl,-rpath,"$lib_dir" -lpthread
  if ! ldd "$out/$name.shared" | grep "libbreakwater.so" >/dev/null; then  # not -q: with pipefail, an early exit of grep can SIGPIPE ldd
    echo "error: $name.shared is not linked against libbreakwater.so" >&2
    exit 1
  fi
  cc "${cflags[@]}" "$src" -o "$out/$name.static" "$lib_dir/libbreakwater.a" "${static_libs[@]}"
  if ldd "$out/$name.static" | grep -q "libbreakwater"; then
    echo "error: $name.static should not need libbreakwater.so" >&2
    exit 1
  fi
  # AddressSanitizer instruments the C code and intercepts malloc/free for the whole
  # process, so Rust's allocations (through the system allocator) are checked too.
  cc "${cflags[@]}" -fsanitize=address -fno-omit-frame-pointer "$src" -o "$out/$name.asan" \
    "$lib_dir/libbreakwater.a" "${static_libs[@]}"

  run "$name (shared library)" "$out/$name.shared"
  run "$name (static library)" "$out/$name.static"
  run "$name (AddressSanitizer, static library)" \
    env ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 "$out/$name.asan"
  run "$name (valgrind memcheck, shared library)" "${memcheck[@]}" "$out/$name.shared"
  run "$name (valgrind memcheck, static library)" "${memcheck[@]}" "$out/$name.static"
done

# The behaviour scenarios (ffi-tests/scenarios/*.json), also run by the Rust, Python and
# Go suites: the C runner, on the shared library, under AddressSanitizer and memcheck.
scen=ffi-tests/scenarios
cc "${cflags[@]}" "$scen/run_scenarios.c" -o "$out/run_scenarios.shared" \
  -L"$lib_dir" -lbreakwater -Wl,-rpath,"$lib_dir" -lpthread -lm
cc "${cflags[@]}" -fsanitize=address -fno-omit-frame-pointer "$scen/run_scenarios.c" \
  -o "$out/run_scenarios.asan" "$lib_dir/libbreakwater.a" "${static_libs[@]}"
run "run_scenarios (shared library)" "$out/run_scenarios.shared" "$scen"
run "run_scenarios (AddressSanitizer, static library)" \
  env ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 "$out/run_scenarios.asan" "$scen"
run "run_scenarios (valgrind memcheck, shared library)" "${memcheck[@]}" \
  "$out/run_scenarios.shared" "$scen"

c++ -std=c++17 -Wall -Wextra -Werror -Iinclude ffi-tests/c/cpp_compat.cpp -o "$out/cpp_compat" \
  -L"$lib_dir" -lbreakwater -Wl,-rpath,"$lib_dir"
run "cpp_compat (C++, shared library)" "$out/cpp_compat"
echo "C suite passed"
