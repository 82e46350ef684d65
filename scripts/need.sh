# Sourced by scripts/test-all.sh and scripts/suites/*.sh.
# need TOOL WHAT: returns 0 when TOOL is on PATH; otherwise fails the run under CI=true
# (a missing toolchain must not pass silently) and returns 1 with a warning elsewhere,
# so that the caller can skip WHAT.
need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    if [ "${CI:-}" = "true" ]; then
      echo "error: $1 is required (CI=true) but not installed" >&2
      exit 1
    fi
    echo "warning: $1 not installed, skipping: $2" >&2
    return 1
  fi
}
