"""ManualClock and MonotonicClock."""

import gc
import math
import threading
import weakref
from datetime import timedelta

import pytest

import breakwater
from breakwater import ManualClock, MonotonicClock
from breakwater.clock import to_nanos


def test_a_manual_clock_starts_at_zero():
    clock = ManualClock()
    assert clock.now_ns() == 0
    assert clock.now() == 0.0


@pytest.mark.parametrize(
    "delta, ns",
    [
        (1, 1_000_000_000),
        (0, 0),
        (0.1, 100_000_000),
        (1.5, 1_500_000_000),
        (1e-9, 1),
        (timedelta(milliseconds=250), 250_000_000),
        (timedelta(days=1, microseconds=3), 86_400_000_003_000),
    ],
)
def test_advance_takes_seconds_or_timedelta(delta, ns):
    clock = ManualClock()
    clock.advance(delta)
    assert clock.now_ns() == ns


def test_advances_add_up():
    clock = ManualClock()
    clock.advance(2)
    clock.advance(timedelta(seconds=3))
    clock.advance_ns(7)
    assert clock.now_ns() == 5_000_000_007
    assert clock.now() == pytest.approx(5.000000007)


@pytest.mark.parametrize("bad", ["1", None, [1], True, False, 1j])
def test_advance_refuses_other_types(bad):
    with pytest.raises(TypeError, match="delta must be seconds"):
        ManualClock().advance(bad)


@pytest.mark.parametrize(
    "bad, message",
    [
        (-1, "delta must not be negative"),
        (-0.5, "delta must not be negative"),
        (timedelta(seconds=-1), "delta must not be negative"),
        (math.nan, "delta must be finite"),
        (math.inf, "delta must be finite"),
        (2**64, "delta is too large"),
        (1e300, "delta is too large"),
    ],
)
def test_advance_refuses_bad_values(bad, message):
    clock = ManualClock()
    with pytest.raises(ValueError, match=message):
        clock.advance(bad)
    assert clock.now_ns() == 0


@pytest.mark.parametrize("bad, exc", [(-1, ValueError), (2**64, ValueError), (1.0, TypeError), (True, TypeError)])
def test_advance_ns_checks_its_argument(bad, exc):
    with pytest.raises(exc):
        ManualClock().advance_ns(bad)


def test_the_manual_time_saturates():
    clock = ManualClock()
    clock.advance_ns(2**64 - 10)
    clock.advance_ns(100)
    assert clock.now_ns() == 2**64 - 1


def test_the_monotonic_clock_moves_forward_and_cannot_be_advanced():
    clock = MonotonicClock()
    a = clock.now_ns()
    b = clock.now_ns()
    assert 0 < a <= b
    assert not hasattr(clock, "advance")
    assert repr(clock) == "MonotonicClock()"


def test_threads_share_a_manual_clock():
    clock = ManualClock()
    barrier = threading.Barrier(4)

    def work():
        barrier.wait()
        for _ in range(500):
            clock.advance_ns(3)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert clock.now_ns() == 4 * 500 * 3


def test_a_closed_clock_refuses_calls():
    clock = ManualClock()
    clock.advance(1)
    clock.close()
    clock.close()  # idempotent
    assert clock.closed
    assert repr(clock) == "ManualClock(closed)"
    with pytest.raises(ValueError, match="^manual clock is closed$"):
        clock.now_ns()
    with pytest.raises(ValueError, match="^manual clock is closed$"):
        clock.advance(1)


def test_a_clock_is_a_context_manager():
    with ManualClock() as clock:
        clock.advance(1)
        assert repr(clock) == "ManualClock(now_ns=1000000000)"
    assert clock.closed
    with MonotonicClock() as mono:
        assert mono.now_ns() > 0
    with pytest.raises(ValueError, match="^monotonic clock is closed$"):
        mono.now_ns()


def test_a_clock_is_freed_when_collected():
    clock = ManualClock()
    ref = weakref.ref(clock)
    del clock
    gc.collect()
    assert ref() is None


def test_to_nanos_names_the_parameter():
    with pytest.raises(ValueError, match="^timeout must not be negative, got -2$"):
        to_nanos(-2, "timeout")
    assert to_nanos(timedelta(microseconds=1)) == 1000
