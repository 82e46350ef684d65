"""What pybreaker users rely on, and the defects found from outside (issue 10): a
dropped permit gives its trial slot back, close() closes the circuit, manual
transitions, remaining_open(), interval=."""

import gc
import inspect
from pathlib import Path

import pytest

import breakwater
from breakwater import (
    CallKind,
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


def test_the_effective_configuration_reads_back_as_typed_properties():
    b = CircuitBreaker(
        name="db", failures_in_window=4, failure_window=10, open_duration=2.5,
        open_duration_multiplier=2, open_duration_cap=60, half_open_max_calls=3,
        success_threshold=2, half_open_max_wait=5, interval=30,
    )
    c = b.config
    assert (c.name, c.policy, c.failures_in_window, c.failure_window) == ("db", "failures_in_window", 4, 10.0)
    assert (c.open_duration, c.open_duration_multiplier, c.open_duration_cap) == (2.5, 2.0, 60.0)
    assert (c.half_open_max_calls, c.success_threshold, c.half_open_max_wait, c.interval) == (3, 2, 5.0, 30.0)
    assert c.consecutive_failures is None and c.failure_rate is None


def test_the_configuration_has_the_library_defaults_and_round_trips():
    c = CircuitBreaker(slow_call_rate=0.5, slow_duration=2, window_time=20).config
    assert (c.policy, c.slow_call_rate, c.slow_duration, c.window_time) == ("slow_call_rate", 0.5, 2.0, 20.0)
    assert c.minimum_calls == 100  # from the library
    default = CircuitBreaker().config
    assert default.policy == "consecutive_failures"
    assert default.json == {**breakwater.breaker.config_defaults(), "consecutive_failures": 5, "name": default.name}
    keywords = {k: v for k, v in vars(c).items() if k not in ("policy", "json") and v is not None}
    assert CircuitBreaker(**keywords).config == c


def test_a_registry_handle_reads_the_registered_configuration():
    reg = Registry()
    reg.breaker("x", failure_rate=0.25, window_calls=8, minimum_calls=4)
    c = reg.breaker("x").config
    assert (c.name, c.failure_rate, c.window_calls, c.minimum_calls) == ("x", 0.25, 8, 4)


def test_call_events_reach_on_call_and_the_polling_queue(clock):
    seen = []
    b = CircuitBreaker(consecutive_failures=1, open_duration=5, clock=clock, on_call=seen.append)

    def slow_ok():
        clock.advance(0.25)
        return "ok"

    assert b.call(slow_ok) == "ok"
    with pytest.raises(ZeroDivisionError):
        b.call(lambda: 1 / 0)
    with pytest.raises(CircuitOpenError):
        b.call(int)
    kinds = [e.kind for e in seen]
    assert kinds == [CallKind.SUCCESS, CallKind.FAILURE, CallKind.REJECTED]
    assert seen[0].duration == 0.25
    assert seen[2].duration is None
    assert seen[2].reason is breakwater.errors.Reason.OPEN
    assert seen[0].reason is None
    assert b.poll_call_events() == seen
    assert b.poll_call_events() == []


def test_a_dropped_permit_shows_as_an_ignored_call_event(clock):
    b = CircuitBreaker(clock=clock, call_events=True)
    b.acquire()
    gc.collect()
    assert [e.kind for e in b.poll_call_events()] == [CallKind.IGNORED]


def test_an_exception_in_on_call_is_re_raised_by_the_call(clock):
    def listener(event):
        raise RuntimeError("listener")

    b = CircuitBreaker(clock=clock, on_call=listener)
    with pytest.raises(RuntimeError, match="listener"):
        b.call(int)
    assert b.metrics().total_successes == 1


def test_polling_call_events_needs_them_turned_on(clock):
    with pytest.raises(breakwater.InvalidArgumentError, match="no call events"):
        CircuitBreaker(clock=clock).poll_call_events()
    with pytest.raises(TypeError, match="on_call must be callable"):
        CircuitBreaker(on_call=3)
