#!/usr/bin/env bash
# Go suite: installs the library into target/prefix (`make install`, as users do) so that
# the binding links its static library through pkg-config, then runs `go vet`,
# `go test` and `go test -race` on the binding's own tests (bindings/go), on the tests
# that use it as a client (ffi-tests/go) and on the Prometheus sub-module
# (bindings/go/prometheus). The first two need no third-party Go module, so they run
# with GOPROXY=off; the sub-module's modules (client_golang, expfmt, pinned by its
# go.sum) come from the Go module proxy on first use (the module cache keeps them).
#
# Under CI=true a missing Go toolchain fails the suite instead of skipping it.
set -euo pipefail
cd "$(dirname "$0")/../.."

source scripts/need.sh

echo "== Go: bindings/go, ffi-tests/go and bindings/go/prometheus"
need go "the Go suite" || exit 0
need cc "the Go suite (cgo)" || exit 0

source scripts/dev-prefix.sh
export CGO_ENABLED=1

# The tests reach the binding through a replace directive. GOPROXY=off for the modules
# with no dependency to fetch; the proxy the environment names (or the go command's
# default) for the sub-module.
for dir in bindings/go ffi-tests/go bindings/go/prometheus; do
  echo "-- $dir"
  if [ "$dir" = bindings/go/prometheus ]; then
    proxy=${GOPROXY:-$(go env GOPROXY)}
  else
    proxy=off
  fi
  unformatted=$(cd "$dir" && gofmt -l .)
  if [ -n "$unformatted" ]; then
    echo "error: gofmt needed on: $unformatted" >&2
    exit 1
  fi
  (cd "$dir" && GOPROXY=$proxy go vet ./...)
  (cd "$dir" && GOPROXY=$proxy go test -count=1 ./...)
  (cd "$dir" && GOPROXY=$proxy go test -count=1 -race ./...)
done
echo "Go suite passed"
