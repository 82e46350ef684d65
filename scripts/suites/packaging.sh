#!/usr/bin/env bash
# Packaging suite: every language installs breakwater the way its ecosystem does, and a
# program outside the repository tree, in a temporary folder, uses it:
#   C      `make install` into a temporary prefix; a program built with pkg-config only,
#          run under valgrind; a CMake project with find_package (when cmake is there);
#   Python `pip wheel ./bindings/python` (setuptools-rust puts the library inside a
#          py3-none-<platform> wheel); a fresh venv; a smoke script run from another folder
#          with no BREAKWATER_LIB;
#   Go     a module in a temporary folder with a `replace` directive only: go build,
#          go vet, go mod vendor and build again; the binary copied elsewhere and run;
#   Rust   a temporary crate with a path dependency builds and runs the README example.
# Prints the wheel's size and the Go binary's size. Under CI=true a missing toolchain
# fails the suite.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
source scripts/need.sh

echo "== Packaging: C, Python, Go and Rust from outside the repository"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! cmp -s include/breakwater.h bindings/go/breakwater.h; then
  echo "error: bindings/go/breakwater.h differs from include/breakwater.h" >&2
  echo "       (BW_BLESS=1 cargo test --all-features --test header rewrites both)" >&2
  exit 1
fi

need make "the packaging suite" || exit 0
need pkg-config "the packaging suite" || exit 0
prefix="$tmp/prefix"
make --no-print-directory -s install PREFIX="$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"

echo "-- C: pkg-config"
mkdir "$tmp/c" && cp packaging/smoke/demo.c "$tmp/c/"
(
  cd "$tmp/c"
  # shellcheck disable=SC2046 # pkg-config's output is a list of flags
  cc -std=c11 -Wall -Wextra -Werror demo.c $(pkg-config --cflags --libs breakwater) -o demo
  LD_LIBRARY_PATH="$prefix/lib" valgrind --quiet --leak-check=full \
    --errors-for-leak-kinds=definite,possible --error-exitcode=1 ./demo
  # shellcheck disable=SC2046
  cc -std=c11 demo.c $(pkg-config --cflags --libs breakwater-static) -o demo-static
  ./demo-static
)
if command -v cmake >/dev/null 2>&1; then
  echo "-- C: CMake find_package"
  mkdir "$tmp/cmake" && cp packaging/smoke/demo.c "$tmp/cmake/"
  cat >"$tmp/cmake/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(demo C)
find_package(breakwater 0.1 REQUIRED)
add_executable(demo demo.c)
target_link_libraries(demo PRIVATE breakwater::breakwater_static)
CMAKE
  (cd "$tmp/cmake" && cmake -S . -B build -DCMAKE_PREFIX_PATH="$prefix" >/dev/null &&
    cmake --build build >/dev/null && ./build/demo)
fi

if need python3 "the Python packaging check"; then
  echo "-- Python: wheel, fresh venv"
  python3 -m venv "$tmp/venv"
  "$tmp/venv/bin/pip" install -q --upgrade pip >/dev/null
  "$tmp/venv/bin/pip" wheel -q --no-deps ./bindings/python -w "$tmp/wheels" 2>&1 |
    grep -v "^\s*$" || true
  wheel=$(ls "$tmp"/wheels/breakwater_resilience-*.whl)
  case "$(basename "$wheel")" in
    *-py3-none-linux_x86_64.whl | *-py3-none-manylinux*.whl) ;;
    *) echo "error: the wheel is not platform-tagged: $(basename "$wheel")" >&2; exit 1 ;;
  esac
  for member in breakwater/libbreakwater.so breakwater/py.typed breakwater/__init__.py; do
    if ! python3 -m zipfile -l "$wheel" | grep -F "$member" >/dev/null; then
      echo "error: the wheel has no $member" >&2
      exit 1
    fi
  done
  echo "wheel: $(basename "$wheel"), $(du -k "$wheel" | cut -f1) KiB"
  "$tmp/venv/bin/pip" install -q --no-index "$wheel"
  mkdir "$tmp/py" && cp packaging/smoke/smoke.py "$tmp/py/"
  (cd "$tmp/py" && env -u BREAKWATER_LIB -u PYTHONPATH "$tmp/venv/bin/python" smoke.py)
  # A wrong BREAKWATER_LIB names itself and says what to do.
  if msg=$(cd "$tmp/py" && env -u PYTHONPATH BREAKWATER_LIB=/nonexistent/libbreakwater.so \
    "$tmp/venv/bin/python" -c "import breakwater" 2>&1); then
    echo "error: import breakwater succeeded with a wrong BREAKWATER_LIB" >&2
    exit 1
  fi
  if ! grep -F "BREAKWATER_LIB=/nonexistent/libbreakwater.so is not a file" <<<"$msg" >/dev/null; then
    echo "error: a wrong BREAKWATER_LIB did not give the expected ImportError:" >&2
    echo "$msg" >&2
    exit 1
  fi
fi

if need go "the Go packaging check"; then
  echo "-- Go: a module outside the repository"
  mkdir -p "$tmp/go/app" "$tmp/go/elsewhere"
  cp packaging/smoke/main.go "$tmp/go/app/"
  cat >"$tmp/go/app/go.mod" <<GOMOD
module example.com/app

go 1.24

require github.com/breakwater-rs/breakwater/bindings/go v0.0.0

replace github.com/breakwater-rs/breakwater/bindings/go => $repo/bindings/go
GOMOD
  (
    cd "$tmp/go/app"
    export CGO_ENABLED=1 GOPROXY=off GOFLAGS=-mod=mod
    go build -o app .
    go vet .
    go mod vendor
    GOFLAGS=-mod=vendor go build -o app-vendored .
    cp app-vendored "$tmp/go/elsewhere/app"
    if ldd "$tmp/go/elsewhere/app" | grep libbreakwater >/dev/null; then
      echo "error: the Go binary needs libbreakwater.so" >&2
      exit 1
    fi
  )
  (cd / && "$tmp/go/elsewhere/app")
  echo "go binary: $(du -k "$tmp/go/elsewhere/app" | cut -f1) KiB (static libbreakwater)"
fi

echo "-- Rust: a crate with a path dependency runs the README example"
mkdir -p "$tmp/rust/src"
cat >"$tmp/rust/Cargo.toml" <<TOML
[package]
name = "readme-example"
version = "0.1.0"
edition = "2024"

[dependencies]
breakwater-resilience = { path = "$repo" }
TOML
# The README's first Rust block is the quick start: it must be a complete program.
awk '/^```rust/ { inside = 1; next } /^```/ { if (inside) exit } inside' README.md \
  >"$tmp/rust/src/main.rs"
(cd "$tmp/rust" && CARGO_TARGET_DIR="$repo/target/outside" cargo run --quiet)
echo "Packaging suite passed"
