"""Composition in Python: stages outermost first over the policies' protocols, with
the time limiter, fallback and small fakes for the other policies."""

import pytest

import breakwater
from breakwater import Fallback, Pipeline, TimeLimiter, resilient


class FakeBreaker:
    """acquire() -> permit with success/failure/ignore."""

    def __init__(self):
        self.outcomes = []

    def acquire(self):
        breaker = self

        class Permit:
            def success(self):
                breaker.outcomes.append("success")

            def failure(self):
                breaker.outcomes.append("failure")

            def ignore(self):
                breaker.outcomes.append("ignore")

        return Permit()


class FakeRetry:
    def __init__(self, attempts):
        self.attempts = attempts
        self.calls = 0

    def call(self, fn):
        for i in range(self.attempts):
            self.calls += 1
            try:
                return fn()
            except OSError:
                if i == self.attempts - 1:
                    raise


class FakeBulkhead:
    def __init__(self):
        self.inside = 0
        self.entered = 0

    def __enter__(self):
        self.inside += 1
        self.entered += 1

    def __exit__(self, *exc):
        self.inside -= 1


class FakeLimiter:
    def __init__(self, permits):
        self.permits = permits

    def try_acquire(self):
        self.permits -= 1
        return self.permits >= 0


def test_stages_run_outermost_first_and_exceptions_pass_unchanged():
    order = []

    class Tracer:
        def __init__(self, name):
            self.name = name

        def guard(self, fn):
            order.append(self.name)
            return fn()

    assert Pipeline(Tracer("a"), Tracer("b"), Tracer("c")).call(lambda: order.append("call") or 7) == 7
    assert order == ["a", "b", "c", "call"]
    error = KeyError("x")

    def fail():
        raise error

    with pytest.raises(KeyError) as info:
        Pipeline(Tracer("a")).call(fail)
    assert info.value is error


def test_reference_order_bulkhead_breaker_retry_time_limit():
    bulkhead, breaker, retry = FakeBulkhead(), FakeBreaker(), FakeRetry(3)
    attempts = []

    @resilient(bulkhead, breaker, retry, TimeLimiter(timeout=30))
    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise OSError("reset")
        return "ok"

    assert flaky() == "ok"
    assert (retry.calls, breaker.outcomes, bulkhead.entered, bulkhead.inside) == (3, ["success"], 1, 0)


def test_breaker_counts_failures_and_ignores_inner_rejections():
    breaker = FakeBreaker()
    p = Pipeline(breaker, FakeLimiter(1))
    p.call(lambda: None)
    with pytest.raises(breakwater.RateLimitedError):
        p.call(lambda: None)
    with pytest.raises(ZeroDivisionError):
        Pipeline(breaker).call(lambda: 1 / 0)
    assert breaker.outcomes == ["success", "ignore", "failure"]


def test_fallback_answers_a_time_out():
    p = Pipeline(Fallback(lambda e: f"fallback after {type(e).__name__}", on=breakwater.TimeoutError),
                 TimeLimiter(timeout=0.001, max_threads=4))
    import threading

    gate = threading.Event()
    try:
        assert p.call(gate.wait) == "fallback after TimeoutError"
    finally:
        gate.set()
    f = Fallback("temporary unavailable", on=(ConnectionError,))
    assert Pipeline(f).call(lambda: 5) == 5
    with pytest.raises(ValueError):
        Pipeline(f).call(lambda: int("x"))
    assert f.used == 0


def test_bad_input_is_refused():
    with pytest.raises(TypeError, match="not a pipeline stage"):
        Pipeline(object())
    with pytest.raises(TypeError, match="on must be"):
        Fallback(0, on=(42,))
    with pytest.raises(TypeError, match="callable"):
        Pipeline().call(3)
