"""RateLimiter (on the manual clock)."""

import threading

import pytest

import breakwater

from breakwater import (
    CancelledError,
    CancelToken,
    InvalidConfigError,
    ManualClock,
    RateLimitedError,
    RateLimiter,
)


def test_n_permits_per_period():
    clock = ManualClock()
    limiter = RateLimiter(5, 1.0, clock=clock)
    for _ in range(3):
        assert [limiter.try_acquire() for _ in range(6)] == [True] * 5 + [False]
        clock.advance(1)
    m = limiter.metrics()
    assert (m.permitted, m.rejected, m.available, m.burst) == (15, 3, 5, 5)
    assert m.emission_interval == 0.2


def test_a_refusal_says_when_to_retry():
    clock = ManualClock()
    limiter = RateLimiter(10, 1.0, burst=4, clock=clock)
    assert limiter.try_acquire(3)
    with pytest.raises(RateLimitedError) as info:
        limiter.acquire(2, timeout=0)
    assert info.value.retry_after == 0.1
    assert clock.now_ns() == 0
    assert limiter.try_acquire(0)
    with pytest.raises(RateLimitedError):  # more than the burst never fits
        limiter.acquire(5)


def test_acquire_waits_only_when_a_permit_comes_in_time():
    clock = ManualClock()
    limiter = RateLimiter(1, 1.0, clock=clock)
    limiter.acquire(timeout=0)
    with pytest.raises(RateLimitedError) as info:
        limiter.acquire(timeout=0.5)
    assert info.value.retry_after == 1.0
    assert clock.now_ns() == 0
    limiter.acquire(timeout=1.0)
    assert clock.now_ns() == 1_000_000_000
    limiter.acquire()  # no limit
    assert clock.now_ns() == 2_000_000_000


def test_with_and_decorator_raise_rate_limited():
    clock = ManualClock()
    limiter = RateLimiter(2, 1.0, clock=clock)
    with limiter:
        pass
    calls = []

    @limiter
    def f(x):
        calls.append(x)
        return x * 2

    assert f(4) == 8
    with pytest.raises(RateLimitedError) as info:
        with limiter:
            calls.append("never")
    assert info.value.retry_after == 0.5
    with pytest.raises(RateLimitedError):
        f(1)
    assert calls == [4]
    waiting = RateLimiter(2, 1.0, clock=clock, max_wait=1)
    waiting.try_acquire(2)
    with waiting:
        pass
    assert clock.now_ns() == 500_000_000


def test_exceptions_in_guarded_code_are_re_raised_unchanged():
    limiter = RateLimiter(5, 1.0, clock=ManualClock())
    boom = KeyError("x")

    @limiter
    def f():
        raise boom

    with pytest.raises(KeyError) as info:
        f()
    assert info.value is boom


def test_a_cancel_ends_a_real_wait():
    limiter = RateLimiter(1, 3600.0)
    limiter.try_acquire()
    token = CancelToken()
    timer = threading.Timer(0.05, token.cancel)
    timer.start()
    with pytest.raises(CancelledError):
        limiter.acquire(cancel=token)
    timer.join()


def test_threads_share_the_permits_exactly():
    clock = ManualClock()
    limiter = RateLimiter(1000, 1.0, clock=clock)
    granted = []

    def worker():
        granted.append(sum(limiter.try_acquire() for _ in range(200)))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 1000
    m = limiter.metrics()
    assert (m.permitted, m.rejected) == (1000, 600)


@pytest.mark.parametrize(
    "args, kwargs, exc, match",
    [
        ((0,), {}, InvalidConfigError, "permits"),
        ((1, 0), {}, InvalidConfigError, "period"),
        ((1, -1), {}, ValueError, "period must not be negative"),
        (("5",), {}, TypeError, "permits must be an int"),
        ((5,), {"burst": 0}, InvalidConfigError, "burst"),
        ((5,), {"burst": 1.5}, TypeError, "burst must be an int"),
        ((5,), {"max_wait": float("inf")}, ValueError, "max_wait"),
        ((5,), {"clock": 1}, TypeError, "clock must be"),
        ((5,), {"name": 7}, TypeError, "name must be a str"),
    ],
)
def test_bad_input(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        RateLimiter(*args, **kwargs)


def test_bad_calls():
    limiter = RateLimiter(5, clock=ManualClock())
    with pytest.raises(TypeError):
        limiter.try_acquire("1")
    with pytest.raises(ValueError):
        limiter.try_acquire(-1)
    with pytest.raises(ValueError):
        limiter.acquire(timeout=-1)
    with pytest.raises(TypeError):
        limiter.acquire(cancel=object())
    with pytest.raises(TypeError):
        limiter(5)
    limiter.close()
    with pytest.raises(ValueError, match="rate limiter is closed"):
        limiter.try_acquire()


@pytest.mark.parametrize("kwargs, field", [({"permits": 0}, "permits"), ({"permits": 2**32}, "permits"), ({"burst": -1}, "burst")])
def test_out_of_range_values_get_the_library_message(kwargs, field):
    with pytest.raises(breakwater.InvalidConfigError) as e:
        RateLimiter(**kwargs)
    text = str(e.value)
    assert text.startswith(f"invalid rate limiter configuration: {field}")
    assert "[1, 2**32)" not in text


def test_unset_arguments_take_the_library_defaults():
    defaults = breakwater._lib.static_json(breakwater._lib.lib.bw_limiter_config_defaults_json)
    limiter = RateLimiter()
    assert limiter.config == defaults
    assert limiter.max_wait == defaults["max_wait_ms"] / 1000
