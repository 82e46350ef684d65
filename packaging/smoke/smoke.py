"""Smoke test of the installed wheel, run from a temporary folder with no BREAKWATER_LIB
(scripts/suites/packaging.sh): the library must come from inside the package."""

import os
import sys

import breakwater

assert "BREAKWATER_LIB" not in os.environ
path = str(breakwater.library_path)
assert "site-packages" in path, path
print("breakwater", breakwater.version(), "from", path)

breaker = breakwater.CircuitBreaker(name="authors", consecutive_failures=2)


def fail() -> None:
    raise ConnectionError("authors is down")


for _ in range(2):
    try:
        breaker.call(fail)
    except ConnectionError:
        pass
try:
    breaker.call(lambda: "never runs")
except breakwater.CircuitOpenError as e:
    print("third call rejected:", e)
    sys.exit(0)
sys.exit("the breaker did not open")
