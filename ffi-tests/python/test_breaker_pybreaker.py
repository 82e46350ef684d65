"""What pybreaker users rely on, and the defects found from outside (issue 10): a
dropped permit gives its trial slot back, close() closes the circuit, manual
transitions, remaining_open(), interval=."""

import gc

import pytest

from breakwater import CircuitBreaker, ManualClock, Retry, State, TrialFullError


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
