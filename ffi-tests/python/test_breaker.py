"""The circuit breaker through Python: the rules of the Rust behaviour tests on the
manual clock, the decorator / context manager / protocol forms, exceptions, callbacks,
threads, the registry and bad input."""

import threading
from datetime import timedelta

import pytest

import breakwater

from breakwater import (
    CircuitBreaker,
    CircuitOpenError,
    ForcedOpenError,
    InvalidConfigError,
    ManualClock,
    Outcome,
    Registry,
    State,
    TrialFullError,
)
from breakwater.breaker import config_json


def fail(breaker, n=1):
    for _ in range(n):
        breaker.acquire().failure()


def succeed(breaker, n=1):
    for _ in range(n):
        breaker.acquire().success()


@pytest.fixture
def clock():
    return ManualClock()


# ---- thresholds ----


def test_consecutive_failures_open_at_the_threshold_and_a_success_resets_the_run(clock):
    b = CircuitBreaker(consecutive_failures=3, clock=clock)
    fail(b, 2)
    succeed(b)
    fail(b, 2)
    assert b.state is State.CLOSED
    fail(b)
    assert b.state is State.OPEN
    m = b.metrics()
    assert (m.total_failures, m.total_successes, m.opened) == (5, 1, 1)


def test_failures_in_window_count_from_the_first_failure(clock):
    b = CircuitBreaker(failures_in_window=3, failure_window=10, clock=clock)
    fail(b, 2)
    clock.advance(10)  # the window has passed: the next failure starts a new one
    fail(b, 2)
    assert b.state is State.CLOSED
    succeed(b, 5)  # successes do not reset the count
    fail(b)
    assert b.state is State.OPEN


def test_failure_rate_waits_for_the_minimum_and_opens_at_the_threshold(clock):
    b = CircuitBreaker(failure_rate=0.5, window_calls=4, minimum_calls=4, clock=clock)
    fail(b, 3)
    assert b.state is State.CLOSED  # 3 < minimum
    assert b.metrics().failure_rate is None
    succeed(b)
    assert b.state is State.OPEN  # 3/4 >= 0.5
    b.reset()
    succeed(b, 2)
    fail(b, 1)
    succeed(b, 1)
    assert b.state is State.CLOSED  # 1/4
    assert b.metrics().failure_rate == 0.25


def test_a_time_window_drops_old_outcomes(clock):
    b = CircuitBreaker(failure_rate=0.5, window_time=timedelta(seconds=10), minimum_calls=2, clock=clock)
    fail(b)
    clock.advance(20)
    succeed(b)
    assert b.metrics().window_calls == 1
    assert b.state is State.CLOSED


def test_slow_call_rate_uses_the_given_durations(clock):
    b = CircuitBreaker(slow_call_rate=0.5, slow_duration=2, window_calls=2, minimum_calls=2, clock=clock)
    b.acquire().record(Outcome.SUCCESS, duration=3)
    assert b.state is State.CLOSED
    b.acquire().record(Outcome.SUCCESS, duration=timedelta(milliseconds=10))
    assert b.state is State.OPEN
    assert b.metrics().total_slow == 1


# ---- half-open ----


def test_half_open_trial_admits_its_size_then_trial_full(clock):
    b = CircuitBreaker(consecutive_failures=1, half_open_max_calls=2, open_duration=5, clock=clock)
    fail(b)
    with pytest.raises(CircuitOpenError) as e:
        b.acquire()
    assert type(e.value) is CircuitOpenError
    assert e.value.retry_after == 5.0
    clock.advance(5)
    assert b.state is State.HALF_OPEN
    p1, p2 = b.acquire(), b.acquire()
    with pytest.raises(TrialFullError) as e:
        b.acquire()
    assert e.value.retry_after is None
    p1.success()
    assert b.state is State.HALF_OPEN
    p2.success()
    assert b.state is State.CLOSED


def test_a_failed_trial_reopens_and_ignore_gives_the_admission_back(clock):
    b = CircuitBreaker(consecutive_failures=1, clock=clock, open_duration=1)
    fail(b)
    clock.advance(1)
    p = b.acquire()
    with pytest.raises(TrialFullError):
        b.acquire()
    assert p.ignore() is True
    p = b.acquire()  # the admission came back
    p.failure()
    assert b.state is State.OPEN


def test_half_open_max_wait_reopens_an_undecided_trial(clock):
    b = CircuitBreaker(consecutive_failures=1, open_duration=1, half_open_max_wait=3, clock=clock)
    fail(b)
    clock.advance(1)
    p = b.acquire()
    clock.advance(3)
    assert b.state is State.OPEN
    assert p.success() is False  # stale
    assert b.metrics().stale_dropped == 1


def test_open_duration_grows_on_consecutive_reopens_and_is_capped(clock):
    b = CircuitBreaker(
        consecutive_failures=1,
        open_duration=1,
        open_duration_multiplier=2.0,
        open_duration_cap=3,
        clock=clock,
    )
    fail(b)
    for expected in (2.0, 3.0, 3.0):
        clock.advance(b_retry_after(b))
        b.acquire().failure()  # the trial fails: re-open, longer
        assert b_retry_after(b) == expected


def b_retry_after(b):
    with pytest.raises(CircuitOpenError) as e:
        b.acquire()
    return e.value.retry_after


# ---- stale and manual modes ----


def test_a_permit_from_an_older_generation_is_stale(clock):
    b = CircuitBreaker(consecutive_failures=1, clock=clock)
    p = b.acquire()
    b.reset()
    assert p.failure() is False
    assert b.state is State.CLOSED
    with pytest.raises(ValueError, match="already reported"):
        p.success()


def test_manual_modes(clock):
    b = CircuitBreaker(consecutive_failures=1, clock=clock)
    b.force_open()
    assert b.state is State.FORCED_OPEN
    with pytest.raises(ForcedOpenError):
        b.acquire()
    b.disable()
    fail(b, 5)
    assert b.state is State.DISABLED
    b.reset()
    assert b.state is State.CLOSED
    m = b.metrics()
    assert m.rejected_forced_open == 1
    assert m.total_failures == 5
    assert m.rejected == 1


# ---- the sugar ----


class Boom(Exception):
    pass


def test_call_returns_values_and_reraises_exceptions_unchanged(clock):
    b = CircuitBreaker(consecutive_failures=2, clock=clock)
    assert b.call(lambda x, y=0: x + y, 1, y=2) == 3
    err = Boom("x")
    with pytest.raises(Boom) as e:
        b.call(lambda: (_ for _ in ()).throw(err))
    assert e.value is err
    m = b.metrics()
    assert (m.successes, m.failures) == (1, 1)


def test_decorator_works_on_functions_and_methods(clock):
    b = CircuitBreaker(consecutive_failures=2, clock=clock)

    class Client:
        def __init__(self):
            self.calls = 0

        @b
        def get(self, ok):
            """Docstring kept."""
            self.calls += 1
            if not ok:
                raise Boom()
            return self.calls

    c = Client()
    assert c.get(True) == 1
    assert Client.get.__doc__ == "Docstring kept."
    for _ in range(2):
        with pytest.raises(Boom):
            c.get(False)
    with pytest.raises(CircuitOpenError):
        c.get(True)
    assert c.calls == 3


def test_with_breaker_records_exceptions_and_nests(clock):
    b = CircuitBreaker(consecutive_failures=2, clock=clock)
    with b:
        with b:
            pass
    with pytest.raises(Boom):
        with b:
            raise Boom()
    assert b.metrics().successes == 2
    assert b.metrics().failures == 1
    with b.acquire() as p:
        p.ignore()
    assert b.metrics().ignored == 1


def test_classify_ignore_and_failure_on(clock):
    b = CircuitBreaker(
        consecutive_failures=1,
        clock=clock,
        classify=lambda r: False if r == 503 else None,
        ignore=KeyError,
    )
    assert b.call(lambda: 200) == 200
    with pytest.raises(KeyError):
        b.call(lambda: {}["x"])
    assert b.state is State.CLOSED
    assert b.metrics().ignored == 1
    assert b.call(lambda: 503) == 503  # a failing value is still returned
    assert b.state is State.OPEN

    only_io = CircuitBreaker(consecutive_failures=1, failure_on=(OSError,), clock=clock)
    with pytest.raises(ValueError):
        only_io.call(int, "x")
    assert only_io.state is State.CLOSED
    with pytest.raises(ConnectionError):
        only_io.call(lambda: (_ for _ in ()).throw(ConnectionError()))
    assert only_io.state is State.OPEN


def test_classify_must_return_a_verdict(clock):
    b = CircuitBreaker(classify=lambda r: "yes", clock=clock)
    with pytest.raises(TypeError, match="classify must return an Outcome"):
        b.call(lambda: 1)


# ---- events ----


def test_outage_exercise_transitions_polled_and_called_back(clock):
    seen = []
    b = CircuitBreaker(
        name="authors",
        consecutive_failures=3,
        open_duration=10,
        clock=clock,
        on_transition=seen.append,
    )
    fail(b, 3)
    clock.advance(10)
    b.acquire().failure()
    clock.advance(10)
    b.acquire().success()
    events = b.poll_events()
    assert [(e.from_state, e.to_state, e.reason, e.generation, e.at_ns) for e in events] == [
        (State.CLOSED, State.OPEN, "threshold reached", 2, 0),
        (State.OPEN, State.HALF_OPEN, "open duration elapsed", 3, 10_000_000_000),
        (State.HALF_OPEN, State.OPEN, "trial failed", 4, 10_000_000_000),
        (State.OPEN, State.HALF_OPEN, "open duration elapsed", 5, 20_000_000_000),
        (State.HALF_OPEN, State.CLOSED, "trial succeeded", 6, 20_000_000_000),
    ]
    assert seen == events
    assert b.poll_events() == []
    assert b.name == "authors"


def test_a_callback_exception_is_reraised_in_the_caller(clock):
    def boom(t):
        raise Boom(t.to_state)

    b = CircuitBreaker(consecutive_failures=1, clock=clock, on_transition=boom)
    with pytest.raises(Boom):
        b.acquire().failure()
    assert b.state is State.OPEN  # the transition happened; the error was not lost
    with pytest.raises(Boom):
        b.reset()


def test_poll_events_limits_and_checks(clock):
    b = CircuitBreaker(clock=clock)
    b.force_open()
    b.reset()
    assert len(b.poll_events(1)) == 1
    assert len(b.poll_events(0)) == 0
    assert len(b.poll_events()) == 1
    with pytest.raises(ValueError, match="max_events must not be negative"):
        b.poll_events(-1)
    with pytest.raises(TypeError):
        b.poll_events("2")


# ---- threads ----


def test_eight_threads_hammering_one_breaker_keep_exact_counts():
    b = CircuitBreaker(consecutive_failures=10**9)
    per_thread = 5000
    counts = [[0, 0, 0] for _ in range(8)]
    start = threading.Barrier(8)

    def work(i):
        start.wait()
        for k in range(per_thread):
            outcome = (k * 7 + i) % 3
            p = b.acquire()
            p.record(Outcome(outcome))
            counts[i][outcome] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    m = b.metrics()
    assert m.total_requests == 8 * per_thread
    assert m.total_successes == sum(c[0] for c in counts)
    assert m.total_failures == sum(c[1] for c in counts)
    assert m.total_ignored == sum(c[2] for c in counts)


def test_call_from_eight_threads_with_nested_calls_keeps_exact_counts():
    # call() takes a frame from the breaker's pool for each call in progress: threads
    # and a call nested in another one each get their own.
    b = CircuitBreaker(consecutive_failures=10**9)
    per_thread = 2000
    start = threading.Barrier(8)

    def inner(k):
        if k % 3 == 1:
            raise KeyError(k)
        return k

    def outer(k):
        try:
            return b.call(inner, k)
        except KeyError:
            return None

    def work():
        start.wait()
        for k in range(per_thread):
            try:
                b.call(outer if k % 2 else inner, k)
            except KeyError:
                pass

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    m = b.metrics()
    outer_calls = per_thread // 2
    failures = sum(1 for k in range(per_thread) if k % 3 == 1)
    assert m.total_requests == 8 * (per_thread + outer_calls)
    assert m.total_failures == 8 * failures
    assert m.total_successes == 8 * (per_thread + outer_calls - failures)
    assert 1 <= len(b._frames) <= 16  # reused, at most two per thread (one nested)


def test_call_refusals_carry_every_attribute_through_copies_and_pickles(clock):
    import copy
    import pickle

    from breakwater.errors import Policy, Reason

    b = CircuitBreaker(name="db", consecutive_failures=1, open_duration=2.5, clock=clock)
    fail(b)
    with pytest.raises(CircuitOpenError) as e:
        b.call(int)
    with pytest.raises(CircuitOpenError) as e2:
        b.acquire()
    assert _fields(e.value) == _fields(e2.value)
    assert e.value.retry_after == 2.5
    for twin in (copy.copy(e.value), pickle.loads(pickle.dumps(e.value))):
        assert _fields(twin) == _fields(e.value)
    b.force_open()
    with pytest.raises(ForcedOpenError) as e3:
        b.call(int)
    twin = pickle.loads(pickle.dumps(e3.value))
    assert _fields(twin) == _fields(e3.value)
    assert (twin.reason, twin.retry_after, twin.message) == (
        Reason.FORCED_OPEN,
        None,
        "circuit breaker rejected the call: forced open (breaker 'db')",
    )
    # An exception made by hand keeps __init__'s defaults, not the fast path's.
    made = CircuitOpenError("by hand")
    assert (made.message, made.status, made.policy, made.reason) == (
        "by hand",
        breakwater._abi.FAILED,
        Policy.NONE,
        Reason.NONE,
    )


# ---- registry ----


def test_registry_shares_by_name_and_refuses_a_different_config(clock):
    reg = Registry()
    a = reg.breaker("db", consecutive_failures=1, clock=clock)
    b = reg.breaker("db")
    c = reg.breaker("db", consecutive_failures=1)
    fail(a)
    assert b.state is State.OPEN and c.state is State.OPEN
    assert b.name == "db"
    with pytest.raises(InvalidConfigError, match="already registered with a different"):
        reg.breaker("db", consecutive_failures=2)
    with pytest.raises(ValueError, match="name must not be empty"):
        reg.breaker("")
    with pytest.raises(TypeError, match="name must be a str"):
        reg.breaker(1)
    reg.close()
    with pytest.raises(ValueError, match="registry is closed"):
        reg.breaker("x")
    assert a.state is State.OPEN


# ---- bad input ----


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"consecutive_failures": 0}, "consecutive_failures must be at least 1"),
        ({"open_duration": 0}, "open_duration_ms must be greater than zero"),
        ({"half_open_max_calls": 0}, "half_open_max_calls"),
        ({"failure_rate": 1.5, "window_calls": 10, "minimum_calls": 1}, r"failure_rate\.threshold must be in \(0, 1\]"),
        ({"failure_rate": 0.5, "window_calls": 10, "minimum_calls": 20}, r"failure_rate\.minimum_calls must not exceed"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_values_are_value_errors_naming_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message) as e:
        CircuitBreaker(**kwargs)
    assert isinstance(e.value, InvalidConfigError)
    assert str(e.value).startswith("invalid circuit breaker configuration")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"consecutive_failures": "3"}, "consecutive_failures must be an int"),
        ({"consecutive_failures": True}, "consecutive_failures must be an int"),
        ({"open_duration": "1s"}, "open_duration must be seconds"),
        ({"window_calls": 3}, "window_calls, window_time and minimum_calls go with"),
        ({"failure_rate": 0.5, "window_calls": 1.5}, "window_calls must be an int"),
        ({"failure_window": 3}, "failure_window goes with failures_in_window"),
        ({"slow_duration": 3}, "slow_duration goes with slow_call_rate"),
        ({"bogus": 1}, "unexpected keyword argument 'bogus'"),
        ({"clock": "now"}, "clock must be a breakwater Clock"),
        ({"on_transition": 3}, "on_transition must be callable"),
        ({"ignore": 3}, "ignore must be an exception type"),
        ({"classify": 3}, "classify must be callable"),
    ],
)
def test_bad_types_are_type_errors(kwargs, message):
    with pytest.raises(TypeError, match=message):
        CircuitBreaker(**kwargs)


def test_negative_durations_and_unknown_json_fields_are_value_errors():
    with pytest.raises(InvalidConfigError, match="open_duration_ms must be a non-negative number"):
        CircuitBreaker(open_duration=-1)
    with pytest.raises(InvalidConfigError, match='unknown key "open_duratoin_ms" \\(did you mean "open_duration_ms"\\?\\)'):
        CircuitBreaker({"open_duratoin_ms": 5})
    with pytest.raises(TypeError, match="config must be a dict"):
        CircuitBreaker("{}")


def test_a_dict_config_and_the_json_form():
    b = CircuitBreaker({"name": "x", "consecutive_failures": 1})
    fail(b)
    assert b.state is State.OPEN
    assert config_json(open_duration=timedelta(microseconds=1500)) == '{"open_duration_ms": 1.5}'


def test_freed_breaker_raises_value_error():
    b = CircuitBreaker()
    b.free()
    assert b.freed
    with pytest.raises(ValueError, match="circuit breaker is freed"):
        b.acquire()
    assert repr(b) == "CircuitBreaker(freed)"


def test_two_trip_policies_are_refused_by_the_library_with_its_message():
    message = (
        "invalid circuit breaker configuration: consecutive_failures and failure_rate are both "
        "set: a breaker has one trip policy (to count slow calls with a failure rate, set "
        "failure_rate.slow)"
    )
    with pytest.raises(InvalidConfigError) as e:
        CircuitBreaker(consecutive_failures=3, failure_rate=0.5)
    assert e.value.message == message
    assert e.value.policy is breakwater.errors.Policy.CIRCUIT_BREAKER


def test_exceptions_carry_enum_members_and_the_breaker_name(clock):
    from breakwater.errors import Policy, Reason

    b = CircuitBreaker(name="db", consecutive_failures=1, clock=clock)
    fail(b)
    with pytest.raises(CircuitOpenError) as e:
        b.call(int)
    assert e.value.policy is Policy.CIRCUIT_BREAKER
    assert e.value.reason is Reason.OPEN
    assert e.value.policy.label == "circuit breaker"
    assert "'db'" in str(e.value)


def test_the_defaults_and_schema_come_from_the_library():
    from breakwater.breaker import config_defaults, config_schema

    d = config_defaults()
    assert d["consecutive_failures"] == 5 and d["failure_rate"] is None
    assert set(config_schema()["properties"]) == set(d)


# ---- the call() fast path (bw_breaker_admit / bw_breaker_record_ptr) ----


def _fields(e):
    return (type(e), e.args, str(e), e.message, e.status, e.status_name, e.policy, e.reason, e.retry_after)


def test_call_refusals_equal_acquire_refusals(clock):
    b = CircuitBreaker(consecutive_failures=1, open_duration=7, clock=clock)
    fail(b)
    clock.advance(2)
    refused = []
    for f in (b.acquire, lambda: b.call(int)):
        with pytest.raises(CircuitOpenError) as e:
            f()
        refused.append(_fields(e.value))
    assert refused[0] == refused[1]
    assert refused[1][0] is CircuitOpenError
    assert refused[1][-1] == 5.0
    assert refused[1][3] == "circuit breaker rejected the call: open (breaker 'default')"
    clock.advance(5)
    p = b.acquire()  # the trial (1 call) is now full
    for f in (b.acquire, lambda: b.call(int)):
        with pytest.raises(TrialFullError) as e:
            f()
        refused.append(_fields(e.value))
    assert refused[2] == refused[3] and refused[3][-1] is None
    p.success()
    b.force_open()
    for f in (b.acquire, lambda: b.call(int)):
        with pytest.raises(ForcedOpenError) as e:
            f()
        refused.append(_fields(e.value))
    assert refused[4] == refused[5]
    m = b.metrics()
    assert (m.rejected_open, m.rejected_trial_full, m.rejected_forced_open) == (2, 2, 2)


def test_call_fast_path_records_outcomes_and_pickles_refusals(clock):
    import pickle

    b = CircuitBreaker(consecutive_failures=2, open_duration=3, clock=clock)
    assert b.call(lambda x, y=1: x + y, 1, y=2) == 3
    with pytest.raises(ZeroDivisionError):
        b.call(lambda: 1 / 0)
    m = b.metrics()
    assert (m.total_successes, m.total_failures, m.consecutive_failures) == (1, 1, 1)
    with pytest.raises(ZeroDivisionError):
        b.call(lambda: 1 / 0)
    with pytest.raises(CircuitOpenError) as e:
        b.call(int)
    copy = pickle.loads(pickle.dumps(e.value))
    assert _fields(copy) == _fields(e.value)


def test_call_on_a_freed_breaker_raises_value_error():
    b = CircuitBreaker()
    b.free()
    with pytest.raises(ValueError, match="circuit breaker is freed"):
        b.call(int)
    with pytest.raises(ValueError, match="circuit breaker is freed"):
        b(int)()
