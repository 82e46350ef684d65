"""Retry, RetryState, the retry decorator and Deadline (on the manual clock)."""

import threading
from datetime import timedelta

import pytest

import breakwater
from breakwater import (
    CircuitOpenError,
    Deadline,
    InvalidConfigError,
    ManualClock,
    RetryOutcome,
    Retry,
    StopReason,
    retry,
)


class Flaky(Exception):
    pass


class Fatal(Exception):
    pass


def script(*steps):
    """A function that raises or returns the given steps in order, counting calls."""
    calls = []

    def fn(*args, **kwargs):
        calls.append((args, kwargs))
        step = steps[len(calls) - 1]
        if isinstance(step, BaseException):
            raise step
        return step

    return fn, calls


def test_retries_then_succeeds_advancing_the_manual_clock_exactly():
    clock = ManualClock()
    fn, calls = script(Flaky(), Flaky(), "ok")
    r = Retry(max_attempts=4, initial=0.5, clock=clock)
    assert r.call(fn, 1, key="v") == "ok"
    assert len(calls) == 3
    assert calls[0] == ((1,), {"key": "v"})
    assert clock.now_ns() == 1_500_000_000


def test_the_last_exception_is_re_raised_unchanged():
    clock = ManualClock()
    errors = [Flaky("a"), Flaky("b"), Flaky("c")]
    fn, calls = script(*errors)
    r = Retry(max_attempts=3, initial=0.1, clock=clock)
    with pytest.raises(Flaky) as info:
        r.call(fn)
    assert info.value is errors[2]
    assert len(calls) == 3
    assert clock.now_ns() == 300_000_000


def test_non_retryable_exceptions_are_raised_at_once():
    clock = ManualClock()
    fatal = Fatal("no")
    fn, calls = script(Flaky(), fatal)
    r = Retry(max_attempts=5, initial=1, clock=clock, retry_on=Flaky)
    with pytest.raises(Fatal) as info:
        r.call(fn)
    assert info.value is fatal
    assert len(calls) == 2
    assert clock.now_ns() == 1_000_000_000
    # a predicate
    fn, calls = script(ValueError("retry me"), ValueError("stop"))
    r = Retry(max_attempts=5, initial=1, clock=clock, retry_on=lambda e: str(e) == "retry me")
    with pytest.raises(ValueError, match="stop"):
        r.call(fn)
    assert len(calls) == 2


def test_rejections_of_inner_policies_are_never_retried():
    clock = ManualClock()
    rejected = CircuitOpenError("open")
    fn, calls = script(rejected)
    with pytest.raises(CircuitOpenError) as info:
        Retry(max_attempts=5, clock=clock).call(fn)
    assert info.value is rejected
    assert len(calls) == 1
    assert clock.now_ns() == 0


def test_base_exceptions_pass_through():
    fn, calls = script(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        Retry(max_attempts=5, clock=ManualClock()).call(fn)
    assert len(calls) == 1


def test_values_are_retried_and_the_last_one_returned():
    clock = ManualClock()
    fn, calls = script(503, 503, 503)
    r = Retry(max_attempts=3, backoff="fixed", initial=0.2, clock=clock, retry_if_result=lambda s: s == 503)
    assert r.call(fn) == 503
    assert len(calls) == 3
    assert clock.now_ns() == 400_000_000


def test_on_retry_sees_attempt_delay_and_outcome():
    clock = ManualClock()
    err = Flaky()
    fn, _ = script(err, 503, 200)
    seen = []
    r = Retry(
        max_attempts=4,
        backoff="linear",
        initial=0.1,
        step=0.1,
        clock=clock,
        retry_if_result=lambda s: s == 503,
        on_retry=lambda attempt, delay, outcome: seen.append((attempt, delay, outcome)),
    )
    assert r.call(fn) == 200
    assert seen == [(1, 0.1, err), (2, 0.2, 503)]


def test_an_exception_in_on_retry_propagates():
    fn, _ = script(Flaky(), "ok")
    boom = RuntimeError("hook")

    def hook(*_):
        raise boom

    with pytest.raises(RuntimeError) as info:
        Retry(clock=ManualClock(), on_retry=hook).call(fn)
    assert info.value is boom


def test_a_retry_after_hint_replaces_a_smaller_delay():
    clock = ManualClock()
    e = Flaky()
    e.retry_after = 3.0
    fn, _ = script(e, "ok")
    assert Retry(backoff="fixed", initial=0.1, clock=clock).call(fn) == "ok"
    assert clock.now_ns() == 3_000_000_000


def test_max_elapsed_stops_retrying():
    clock = ManualClock()
    fn, calls = script(*[Flaky()] * 10)
    r = Retry(max_attempts=10, backoff="fixed", initial=1, max_elapsed=2.5, clock=clock)
    with pytest.raises(Flaky):
        r.call(fn)
    assert len(calls) == 3
    assert r.delays() == [1.0, 1.0]


def test_decorators():
    clock = ManualClock()
    fn, calls = script(Flaky(), "ok")

    @retry(max_attempts=2, initial=0.25, clock=clock)
    def wrapped(x):
        """doc"""
        return fn(x)

    assert wrapped(7) == "ok"
    assert wrapped.__doc__ == "doc"
    assert calls[1] == ((7,), {})
    assert clock.now_ns() == 250_000_000

    policy = Retry(max_attempts=1, clock=clock)

    @policy
    def once():
        raise Flaky()

    with pytest.raises(Flaky):
        once()

    @retry
    def plain():
        return 5

    assert plain() == 5


def test_seeded_jitter_is_reproducible_and_matches_the_state():
    clock = ManualClock()
    a = Retry(max_attempts=6, initial=0.1, max_delay=2, jitter=0.5, min_delay=0.1, seed=42, clock=clock)
    b = Retry(max_attempts=6, initial=0.1, max_delay=2, jitter=0.5, min_delay=0.1, seed=42, clock=clock)
    assert a.delays() == b.delays()
    assert len(a.delays()) == 5
    state = a.begin()
    got = []
    while (d := state.next(RetryOutcome.RETRYABLE)) is not None:
        got.append(d / 1e9)
    assert got == a.delays()
    assert state.stop_reason is StopReason.ATTEMPTS_EXHAUSTED
    for kind in ("full", "equal", "decorrelated"):
        r = Retry(max_attempts=4, jitter=kind, seed=1, clock=clock)
        assert r.delays() == Retry(max_attempts=4, jitter=kind, seed=1, clock=clock).delays()


def test_the_state_by_hand():
    clock = ManualClock()
    r = Retry(max_attempts=3, backoff="fixed", initial=0.1, clock=clock)
    state = r.begin()
    assert state.attempt == 1
    assert state.next(RetryOutcome.RETRYABLE, retry_after=timedelta(seconds=1)) == 1_000_000_000
    assert state.attempt == 2
    assert state.next(RetryOutcome.PERMANENT) is None
    assert state.stop_reason is StopReason.PERMANENT
    assert state.next(RetryOutcome.RETRYABLE) is None
    with pytest.raises(TypeError):
        state.next("retryable")
    with pytest.raises(breakwater.InvalidArgumentError, match="outcome_kind: 9"):
        state.next(9)
    state.close()
    with pytest.raises(ValueError, match="closed"):
        state.attempt


def test_a_deadline_limits_the_state():
    clock = ManualClock()
    r = Retry(max_attempts=10, backoff="fixed", initial=0.1, clock=clock)
    with Deadline(0.25, clock=clock) as d:
        state = r.begin(deadline=d)
        for _ in range(2):
            clock.advance_ns(state.next(RetryOutcome.RETRYABLE))
        assert state.next(RetryOutcome.RETRYABLE) is None
        assert state.stop_reason is StopReason.DEADLINE_REACHED
        assert d.remaining_ns() == 50_000_000
        assert not d.expired
        clock.advance(0.05)
        assert d.expired
        assert d.remaining() == 0.0
    with pytest.raises(TypeError):
        r.begin(deadline=5)


def test_the_budget_stops_retries_across_calls():
    clock = ManualClock()
    r = Retry(max_attempts=5, backoff="fixed", initial=0, clock=clock,
              budget={"percent": 0.5, "ttl": 10, "min_retries_per_sec": 0})
    a, b = r.begin(), r.begin()
    assert a.next(RetryOutcome.RETRYABLE) == 0
    assert a.next(RetryOutcome.RETRYABLE) is None
    assert a.stop_reason is StopReason.BUDGET_EXHAUSTED
    assert b.next(RetryOutcome.RETRYABLE) is None


def test_real_sleeps_are_short_and_work():
    fn, calls = script(Flaky(), "ok")
    assert Retry(backoff="fixed", initial=0.001).call(fn) == "ok"
    assert len(calls) == 2


def test_threads_share_a_retry():
    clock = ManualClock()
    r = Retry(max_attempts=3, backoff="fixed", initial=0, clock=clock)
    results = []

    def worker():
        fn, calls = script(Flaky(), Flaky(), "ok")
        results.append((r.call(fn), len(calls)))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [("ok", 3)] * 8


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"max_attempts": 0}, InvalidConfigError, "max_attempts"),
        ({"max_attempts": "3"}, TypeError, "max_attempts must be an int"),
        ({"initial": -1}, ValueError, "initial must not be negative"),
        ({"initial": "1s"}, TypeError, "initial must be seconds"),
        ({"multiplier": 0.5}, InvalidConfigError, "multiplier"),
        ({"multiplier": float("nan")}, ValueError, "multiplier must be finite"),
        ({"backoff": "quadratic"}, ValueError, r"backoff: unknown variant `quadratic`, expected one of `fixed`, `linear`, `exponential`"),
        ({"jitter": "wild"}, ValueError, r"jitter: unknown variant `wild`, expected one of"),
        ({"jitter": 1.5}, InvalidConfigError, "jitter"),
        ({"initial": 1, "max_delay": 0.5}, InvalidConfigError, "max_delay"),
        ({"max_elapsed": 0}, InvalidConfigError, "max_elapsed"),
        ({"seed": -1}, ValueError, "seed"),
        ({"budget": {"percent": 2}}, InvalidConfigError, "percent"),
        ({"budget": {"ttl": 0}}, InvalidConfigError, "ttl"),
        ({"budget": {"nope": 1}}, ValueError, "unknown budget key"),
        ({"budget": 3}, TypeError, "budget must be"),
        ({"retry_on": 3}, TypeError, "retry_on"),
        ({"retry_on": (ValueError, 3)}, TypeError, "retry_on"),
        ({"retry_if_result": 3}, TypeError, "retry_if_result"),
        ({"on_retry": 3}, TypeError, "on_retry"),
        ({"clock": "manual"}, TypeError, "clock must be"),
        ({"name": 3}, TypeError, "name must be a str"),
    ],
)
def test_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Retry(**kwargs)


def test_bad_calls():
    r = Retry(clock=ManualClock())
    with pytest.raises(TypeError):
        r.call(3)
    with pytest.raises(TypeError):
        r(3)
    with pytest.raises(TypeError):
        retry(lambda: 1, max_attempts=2)
    with pytest.raises(ValueError, match="timeout must not be negative"):
        Deadline(-1)


def test_unset_arguments_take_the_library_defaults():
    import breakwater

    defaults = breakwater._lib.static_json(breakwater._lib.lib.bw_retry_config_defaults_json)
    clock = ManualClock()
    assert Retry(clock=clock).config == {}
    expected = Retry(
        max_attempts=defaults["max_attempts"],
        backoff=defaults["backoff"],
        initial=defaults["initial_ms"] / 1000,
        multiplier=defaults["multiplier"],
        clock=clock,
    ).delays()
    assert Retry(clock=clock).delays() == expected
    assert len(expected) == defaults["max_attempts"] - 1


def test_the_retry_decorator_has_typed_keywords():
    import inspect

    from breakwater import retry as retry_decorator

    params = inspect.signature(retry_decorator).parameters
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    assert set(inspect.signature(Retry.__init__).parameters) - {"self"} <= set(params)
    with pytest.raises(TypeError, match="not both"):
        retry_decorator(lambda: 1, max_attempts=2)
