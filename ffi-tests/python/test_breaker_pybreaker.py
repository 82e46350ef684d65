"""What pybreaker users rely on, and the defects found from outside (issue 10): a
dropped permit gives its trial slot back, close() closes the circuit, manual
transitions, remaining_open(), interval=."""

import gc
import inspect
from pathlib import Path

import pytest

import breakwater
from breakwater import (
    CircuitBreaker,
    CircuitOpenError,
    InvalidConfigError,
    ManualClock,
    Registry,
    Retry,
    State,
    TrialFullError,
)


@pytest.fixture
def clock():
    return ManualClock()


def test_a_permit_dropped_without_a_verdict_gives_its_trial_slot_back(clock):
    b = CircuitBreaker(consecutive_failures=1, open_duration=5, half_open_max_calls=1, clock=clock)
    b.acquire().failure()
    clock.advance(5)
    permit = b.acquire()  # the only trial slot
    assert b.state is State.HALF_OPEN
    with pytest.raises(TrialFullError):
        b.acquire()
    del permit
    gc.collect()
    b.acquire().success()  # the slot came back at once
    assert b.state is State.CLOSED
    assert b.metrics().total_ignored == 1


def test_close_closes_the_circuit_and_free_releases_the_handle(clock):
    b = CircuitBreaker(consecutive_failures=1, clock=clock)
    b.acquire().failure()
    assert b.state is State.OPEN
    b.close()
    assert b.state is State.CLOSED
    b.call(int)  # still usable
    b.free()
    b.free()  # idempotent
    with pytest.raises(ValueError, match="freed"):
        b.call(int)


def test_manual_transitions_and_their_pybreaker_names(clock):
    b = CircuitBreaker(open_duration=10, clock=clock)
    assert b.remaining_open() is None
    b.transition_to_open()
    assert b.state is State.OPEN
    assert b.remaining_open() == 10.0
    clock.advance(4)
    assert b.remaining_open() == 6.0
    assert b.state is State.OPEN  # remaining_open changed nothing
    b.transition_to_half_open()
    assert b.state is State.HALF_OPEN
    assert b.remaining_open() is None
    b.close()
    b.open()
    assert b.state is State.OPEN
    b.half_open()
    assert b.state is State.HALF_OPEN
    reasons = [t.reason for t in b.poll_events()]
    assert reasons[0] == "transitioned to open"
    assert "transitioned to half-open" in reasons


def test_remaining_open_is_zero_once_due_and_none_when_forced_open(clock):
    b = CircuitBreaker(consecutive_failures=1, open_duration=3, clock=clock)
    b.acquire().failure()
    clock.advance(5)
    assert b.remaining_open() == 0.0
    b.force_open()
    assert b.remaining_open() is None


def test_retry_delays_above_64_attempts(clock):
    r = Retry(max_attempts=200, backoff="fixed", initial=0.5, clock=clock)
    assert r.delays() == [0.5] * 199
    assert Retry(max_attempts=1, clock=clock).delays() == []


def test_interval_clears_the_closed_counts(clock):
    b = CircuitBreaker(consecutive_failures=3, interval=10, clock=clock)
    b.acquire().failure()
    b.acquire().failure()
    generation = b.metrics().generation
    clock.advance(10)
    b.acquire().failure()
    b.acquire().failure()
    assert b.state is State.CLOSED
    assert b.metrics().generation > generation
    b.acquire().failure()
    assert b.state is State.OPEN


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"failure_rate": float("nan")}, "failure_rate.threshold"),
        ({"failure_rate": float("inf")}, "failure_rate.threshold"),
        ({"slow_call_rate": float("nan"), "slow_duration": 1}, "slow_call_rate.threshold"),
        ({"open_duration_multiplier": float("nan")}, "open_duration_multiplier"),
        ({"open_duration": float("inf")}, "open_duration_ms"),
        ({"interval": float("nan")}, "interval_ms"),
    ],
)
def test_non_finite_values_get_the_library_message_naming_the_field(kwargs, field):
    with pytest.raises(InvalidConfigError) as e:
        CircuitBreaker(**kwargs)
    assert str(e.value).startswith(f"invalid circuit breaker configuration: {field}")


KEYWORDS = {
    "name", "consecutive_failures", "failures_in_window", "failure_window", "failure_rate",
    "slow_call_rate", "slow_duration", "window_calls", "window_time", "minimum_calls",
    "open_duration", "open_duration_multiplier", "open_duration_cap", "half_open_max_calls",
    "success_threshold", "half_open_max_wait", "interval", "clock",
}


def test_the_keywords_are_explicit_with_none_meaning_the_library_default():
    params = inspect.signature(CircuitBreaker.__init__).parameters
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    assert KEYWORDS <= set(params)
    for key in KEYWORDS:
        assert params[key].default is None, key
        assert params[key].kind is inspect.Parameter.KEYWORD_ONLY
    registry = inspect.signature(Registry.breaker).parameters
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in registry.values())
    assert KEYWORDS - {"name"} <= set(registry)


def test_a_type_checker_catches_a_misspelt_keyword(tmp_path, monkeypatch):
    api = pytest.importorskip("mypy.api")
    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        "from breakwater import CircuitBreaker\n"
        "CircuitBreaker(consecutive_failure=3)\n"
        "CircuitBreaker(open_duration='30')\n"
        "CircuitBreaker(consecutive_failures=3, open_duration=30, interval=60)\n"
    )
    monkeypatch.setenv("MYPYPATH", str(Path(breakwater.__file__).resolve().parent.parent))
    out, err, status = api.run(
        ["--follow-imports=silent", "--cache-dir", str(tmp_path / "cache"), str(snippet)]
    )
    assert status == 1, out + err
    assert 'Unexpected keyword argument "consecutive_failure"' in out
    assert 'incompatible type "str"' in out
    assert "snippet.py:4" not in out


def test_a_guarded_generator_is_recorded_when_iteration_ends_or_raises(clock):
    b = CircuitBreaker(consecutive_failures=1, clock=clock)

    @b
    def rows(fail):
        yield 1
        yield 2
        if fail:
            raise IOError("lost")
        return "done"

    it = rows(False)
    assert b.metrics().total_requests == 0  # not at creation
    assert next(it) == 1
    assert b.metrics().total_successes == 0  # not at the first item
    assert list(it) == [2]
    assert b.metrics().total_successes == 1
    failing = rows(True)
    assert list(failing.__next__() for _ in range(2)) == [1, 2]
    assert b.state is State.CLOSED
    with pytest.raises(IOError):
        next(failing)
    assert b.state is State.OPEN
    with pytest.raises(CircuitOpenError):
        next(rows(False))


def test_a_generator_closed_early_is_ignored(clock):
    b = CircuitBreaker(consecutive_failures=1, clock=clock)

    @b
    def rows():
        yield 1
        yield 2

    it = rows()
    next(it)
    it.close()
    m = b.metrics()
    assert (m.total_ignored, m.total_failures, m.total_successes) == (1, 0, 0)


def test_throw_new_error_on_trip_chains_the_original(clock):
    b = CircuitBreaker(consecutive_failures=2, open_duration=7, clock=clock, throw_new_error_on_trip=True)

    def boom():
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        b.call(boom)  # does not trip
    with pytest.raises(CircuitOpenError) as e:
        b.call(boom)  # trips
    assert isinstance(e.value.__cause__, ConnectionError)
    assert e.value.retry_after == 7.0
    assert e.value.policy is breakwater.errors.Policy.CIRCUIT_BREAKER
    assert e.value.reason is breakwater.errors.Reason.OPEN
    assert b.state is State.OPEN


def test_throw_new_error_on_trip_is_off_by_default(clock):
    b = CircuitBreaker(consecutive_failures=1, clock=clock)
    with pytest.raises(ZeroDivisionError):
        b.call(lambda: 1 / 0)
    assert b.state is State.OPEN
    with pytest.raises(TypeError, match="throw_new_error_on_trip must be a bool"):
        CircuitBreaker(throw_new_error_on_trip=1)
