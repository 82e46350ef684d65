#!/usr/bin/env bash
# Installs the system packages the suites need when they are missing (Debian's packages,
# as root): pkg-config and make (the C package and the Go binding's static link),
# redis-server (the `redis` feature's tests), python3-venv (the wheel is tried in a
# fresh venv), cmake (the CMake package check; optional). Toolchains (Rust, Go, Python,
# a C compiler, valgrind) are the machine's; prometheus_client comes from PyPI. Safe to run again: it installs only what is
# missing. Under CI=true a failed install of a required package fails.
set -euo pipefail

# Python's prometheus_client (the binding's optional `prometheus` extra, which the Python
# suite tests) comes from PyPI, into the machine's python3, when it is missing.
if ! python3 -c "import prometheus_client" >/dev/null 2>&1; then
  echo "-- installing prometheus_client (pip)"
  python3 -m pip install --quiet --disable-pip-version-check "prometheus_client>=0.20" ||
    echo "warning: pip could not install prometheus_client" >&2
fi

missing=()
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || missing+=(python3-venv)
command -v cmake >/dev/null 2>&1 || missing+=(cmake)

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
echo "-- installing ${missing[*]} (apt-get)"
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
    echo "warning: apt-get could not install every package" >&2
fi
for tool in pkg-config make redis-server; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    if [ "${CI:-}" = "true" ]; then
      echo "error: $tool is required (CI=true) and could not be installed" >&2
      exit 1
    fi
    echo "warning: $tool is missing: some suites will be skipped" >&2
  fi
done
