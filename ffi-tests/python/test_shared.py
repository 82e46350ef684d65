"""The shared (Redis-backed) breaker and rate limiter from Python.

Skipped when the loaded library was built without the redis feature; the tests against
a real server are skipped unless ``BW_REDIS_URL`` is set (scripts/suites/redis.sh starts
a redis-server and sets it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import breakwater as bw
from breakwater import shared

pytestmark = pytest.mark.skipif(
    not shared.available(), reason="the library was built without the redis feature"
)

UNREACHABLE = "redis://127.0.0.1:1/"
URL = os.environ.get("BW_REDIS_URL", "")
needs_server = pytest.mark.skipif(not URL, reason="BW_REDIS_URL is not set")
PREFIX = f"pytest{os.getpid()}"
BINDINGS = Path(__file__).resolve().parents[2] / "bindings" / "python"


def eventually(predicate, limit: float = 10.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_the_defaults_come_from_the_library():
    d = shared.defaults()
    assert d["redis_url"] == "redis://127.0.0.1:6379/"
    assert d["consecutive_failures"] == 5
    assert shared.defaults("rate_limiter")["lease"] == 1
    assert bw.SharedRateLimiter(redis_url=UNREACHABLE).max_wait == d.get("max_wait_ms", 0) / 1000


def test_a_bad_url_is_a_clear_config_error():
    with pytest.raises(bw.InvalidConfigError, match="redis_url.*scheme"):
        bw.SharedCircuitBreaker(redis_url="http://localhost:6379")
    with pytest.raises(bw.InvalidConfigError, match="op_timeout_ms"):
        bw.SharedCircuitBreaker(op_timeout=0)
    with pytest.raises(bw.InvalidConfigError, match="lease"):
        bw.SharedRateLimiter(10, 1, lease=11, redis_url=UNREACHABLE)
    with pytest.raises(TypeError):
        bw.SharedCircuitBreaker(redis_url=5)


def test_an_unreachable_redis_works_locally_and_reports_degraded():
    b = bw.SharedCircuitBreaker(
        name="authors", redis_url=UNREACHABLE, consecutive_failures=2, op_timeout=0.05
    )
    assert b.health == "DEGRADED"
    assert b.call(lambda: 7) == 7
    with b.acquire() as permit:
        assert permit.local
    for _ in range(2):
        with pytest.raises(OSError):
            b.call(lambda: (_ for _ in ()).throw(OSError("down")))
    with pytest.raises(bw.CircuitOpenError):
        b.call(lambda: 1)
    assert b.state is bw.State.OPEN
    m = b.metrics()
    assert (m.health, m.total_successes, m.total_failures, m.rejected_open) == ("DEGRADED", 2, 2, 1)
    assert m.redis_errors >= 1
    with pytest.raises(bw.FailedError, match="redis unreachable"):
        b.flush()

    limiter = bw.SharedRateLimiter(1, 60, redis_url=UNREACHABLE, op_timeout=0.05)
    assert limiter.health == "DEGRADED"
    assert limiter.try_acquire() is True
    with pytest.raises(bw.RateLimitedError):
        with limiter:
            pass
    assert limiter.metrics().rejected == 1


def test_decorator_and_context_manager_record_outcomes():
    b = bw.SharedCircuitBreaker(redis_url=UNREACHABLE, op_timeout=0.05, consecutive_failures=10)

    @b
    def f(x):
        if x < 0:
            raise ValueError(x)
        return x * 2

    assert f(2) == 4
    with pytest.raises(ValueError):
        f(-1)
    with pytest.raises(KeyError):
        with b:
            raise KeyError("k")
    m = b.metrics()
    assert (m.total_successes, m.total_failures) == (1, 2)


def test_a_registry_shares_and_exports_by_name():
    r = bw.Registry()
    a = r.shared_breaker("db", redis_url=UNREACHABLE, consecutive_failures=1, op_timeout=0.05)
    b = r.shared_breaker("db")
    with pytest.raises(RuntimeError):
        a.call(lambda: (_ for _ in ()).throw(RuntimeError("x")))
    assert b.state is bw.State.OPEN  # one breaker
    with pytest.raises(bw.InvalidConfigError, match="already registered"):
        r.shared_breaker("db", redis_url=UNREACHABLE, consecutive_failures=2, op_timeout=0.05)
    limiter = r.shared_rate_limiter("api", permits=1, period=60, redis_url=UNREACHABLE)
    assert limiter.try_acquire() and not r.shared_rate_limiter("api").try_acquire()


CHILD = """
import sys, time
sys.path.insert(0, {bindings!r})
import breakwater as bw
b = bw.SharedCircuitBreaker(name="trip", redis_url={url!r}, key_prefix={prefix!r},
                            consecutive_failures=3, open_duration=60)
for _ in range(3):
    try:
        b.call(lambda: (_ for _ in ()).throw(OSError("down")))
    except OSError:
        pass
b.flush()
print(b.state.value, b.metrics().opened)
"""


@needs_server
def test_another_process_trips_the_breaker_for_this_one():
    b = bw.SharedCircuitBreaker(
        name="trip", redis_url=URL, key_prefix=PREFIX, consecutive_failures=3, open_duration=60
    )
    assert b.health == "UP"
    assert b.call(lambda: 1) == 1
    child = subprocess.run(
        [sys.executable, "-c", CHILD.format(bindings=str(BINDINGS), url=URL, prefix=PREFIX)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["open", "1"]

    def rejected() -> bool:
        try:
            b.call(lambda: 1)
            return False
        except bw.CircuitOpenError as e:
            assert e.retry_after and e.retry_after > 0
            return True

    assert eventually(rejected)
    m = b.metrics()
    assert m.opened == 1 and m.state is bw.State.OPEN and m.health == "UP"
    b.reset()
    assert b.call(lambda: 2) == 2


@needs_server
def test_the_fleet_quota_holds_across_handles():
    a = bw.SharedRateLimiter(4, 60, name="quota", redis_url=URL, key_prefix=PREFIX)
    b = bw.SharedRateLimiter(4, 60, name="quota", redis_url=URL, key_prefix=PREFIX)
    granted = sum(1 for i in range(10) if (a if i % 2 else b).try_acquire())
    assert granted == 4
    assert a.health == "UP"
    assert a.metrics().redis_commands >= 1


@needs_server
def test_counts_are_exact_after_a_flush():
    a = bw.SharedCircuitBreaker(name="counts", redis_url=URL, key_prefix=PREFIX,
                                consecutive_failures=100, flush_interval=1)
    b = bw.SharedCircuitBreaker(name="counts", redis_url=URL, key_prefix=PREFIX,
                                consecutive_failures=100, flush_interval=1)
    for i in range(20):
        (a if i % 2 else b).call(lambda: None)
    b.flush()
    a.flush()
    m = a.metrics()
    assert (m.fleet_successes, m.total_successes) == (20, 10)
    assert json.loads(json.dumps(shared.defaults()))["key_prefix"] == "breakwater"
