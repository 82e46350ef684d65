#!/usr/bin/env bash
# Go suite: installs the library into target/prefix (`make install`, as users do) so that
# the binding links its static library through pkg-config, then runs `go vet`,
# `go test` and `go test -race` on the binding's own tests (bindings/go) and on the tests
# that use it as a client (ffi-tests/go). No third-party Go module is needed, so nothing
# is downloaded.
#
# Under CI=true a missing Go toolchain fails the suite instead of skipping it.
set -euo pipefail
cd "$(dirname "$0")/../.."

source scripts/need.sh

echo "== Go: bindings/go and ffi-tests/go"
need go "the Go suite" || exit 0
need cc "the Go suite (cgo)" || exit 0

source scripts/dev-prefix.sh
# GOPROXY=off: the modules have no dependency to fetch (the tests reach the binding
# through a replace directive).
export CGO_ENABLED=1 GOPROXY=off

for dir in bindings/go ffi-tests/go; do
  echo "-- $dir"
  unformatted=$(cd "$dir" && gofmt -l .)
  if [ -n "$unformatted" ]; then
    echo "error: gofmt needed on: $unformatted" >&2
    exit 1
  fi
  (cd "$dir" && go vet ./...)
  (cd "$dir" && go test -count=1 ./...)
  (cd "$dir" && go test -count=1 -race ./...)
done
echo "Go suite passed"
