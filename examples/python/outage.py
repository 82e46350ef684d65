"""The outage exercise in Python: a dependency fails, the breaker opens, the fallback
answers, the dependency recovers, the breaker closes. On a manual clock: instant.

Run from the repository root after `cargo build --release`:

    PYTHONPATH=bindings/python python3 examples/python/outage.py
"""

from breakwater import CircuitBreaker, CircuitOpenError, ManualClock

clock = ManualClock()
dependency_up = True


def show(t):
    print(f"  [t={t.at_ns // 10**9:2}s] {t.from_state.value} -> {t.to_state.value} ({t.reason})")


prices = CircuitBreaker(
    name="prices", consecutive_failures=3, open_duration=10, clock=clock, on_transition=show
)


@prices
def fetch_price() -> int:
    if not dependency_up:
        raise ConnectionError("prices service down")
    return 42


def price() -> int:
    try:
        return fetch_price()
    except (ConnectionError, CircuitOpenError):
        return -1  # the fallback: a cached or default answer


print("price:", price())
dependency_up = False
print("the dependency goes down")
for _ in range(5):
    print("price:", price())
clock.advance(10)
print("price (trial, still down):", price())
dependency_up = True
print("the dependency recovers")
clock.advance(10)
print("price:", price())
m = prices.metrics()
print(f"calls: {m.total_requests}, rejected while open: {m.rejected_open}")
