#!/usr/bin/env bash
# Python suite: builds the library (release profile), then runs pytest on ffi-tests/python
# and the doctests of bindings/python/breakwater, with PYTHONPATH=bindings/python (no
# build step for the package). pytest's exit code 5 ("no tests collected") is a failure.
#
# Under CI=true a missing python3, pytest or prometheus_client fails the suite instead of
# skipping it (or, for prometheus_client, the tests that need it).
set -euo pipefail
cd "$(dirname "$0")/../.."

source scripts/need.sh

echo "== Python: ffi-tests/python"
need python3 "the Python suite" || exit 0
if ! python3 -c "import pytest" >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "error: pytest is required (CI=true) but not installed for python3" >&2
    exit 1
  fi
  echo "warning: pytest not installed, skipping the Python suite" >&2
  exit 0
fi

# prometheus_client (the optional extra `prometheus`) is needed by breakwater.prometheus
# and its tests, which are skipped without it, except under CI=true.
ignore=()
if ! python3 -c "import prometheus_client" >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "error: prometheus_client is required (CI=true) but not installed for python3" >&2
    exit 1
  fi
  echo "warning: prometheus_client not installed, skipping breakwater.prometheus" >&2
  ignore=(--ignore=bindings/python/breakwater/prometheus.py)
fi

cargo build --release --lib --features redis  # the library as shipped (Makefile, wheel)

status=0
env -u BREAKWATER_LIB PYTHONPATH="$PWD/bindings/python" PYTHONDONTWRITEBYTECODE=1 \
  python3 -m pytest -p no:cacheprovider -q --rootdir="$PWD" --doctest-modules \
  "${ignore[@]}" ffi-tests/python bindings/python/breakwater || status=$?
if [ "$status" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
