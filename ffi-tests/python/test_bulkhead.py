"""Bulkhead: permits, waits on the manual clock, cancellation, threads."""

import threading
import time

import pytest

import breakwater

from breakwater import (
    Bulkhead,
    BulkheadFullError,
    CancelledError,
    CancelToken,
    InvalidArgumentError,
    InvalidConfigError,
    ManualClock,
)


def wait_for(predicate):
    # Synchronises with a thread parked in the library (not a timing assert).
    while not predicate():
        time.sleep(0.001)


def test_permits_are_counted_exactly():
    b = Bulkhead(2)
    assert b.try_acquire() and b.try_acquire()
    assert not b.try_acquire()
    with pytest.raises(BulkheadFullError) as info:
        b.acquire()
    assert info.value.status_name == "BW_REJECTED"
    m = b.metrics()
    assert (m.max, m.in_use, m.available, m.rejected, m.peak, m.acquired) == (2, 2, 0, 2, 2, 2)
    b.release()
    b.release()
    with pytest.raises(InvalidArgumentError, match="without a permit held"):
        b.release()
    assert b.metrics().in_use == 0
    assert b.metrics().available == 2


def test_with_releases_on_exception_and_re_raises_unchanged():
    b = Bulkhead(1)
    boom = ZeroDivisionError("x")
    with pytest.raises(ZeroDivisionError) as info:
        with b:
            assert b.metrics().in_use == 1
            raise boom
    assert info.value is boom
    assert b.metrics().in_use == 0


def test_decorator_and_call():
    b = Bulkhead(1)

    @b
    def f(x, y=0):
        """doc"""
        assert not b.try_acquire()
        return x + y

    assert f(1, y=2) == 3
    assert f.__doc__ == "doc"
    assert b.call(lambda: 5) == 5
    with b:
        with pytest.raises(BulkheadFullError):
            f(1)
    assert b.metrics().in_use == 0


def test_a_waiter_gets_a_released_permit():
    b = Bulkhead(1, max_wait=3600)
    b.acquire()
    got = []
    t = threading.Thread(target=lambda: (b.acquire(), got.append(True), b.release()))
    t.start()
    wait_for(lambda: b.metrics().waiting == 1)
    b.release()
    t.join()
    assert got == [True]
    assert b.metrics().in_use == 0


def test_a_timed_wait_ends_when_the_manual_clock_passes_it():
    clock = ManualClock()
    b = Bulkhead(1, max_wait=0.1, clock=clock)
    b.acquire()
    errors = []

    def waiter():
        try:
            with b:
                errors.append("got a permit")
        except BulkheadFullError as e:
            errors.append(e)

    t = threading.Thread(target=waiter)
    t.start()
    wait_for(lambda: b.metrics().waiting == 1)
    clock.advance(0.099)
    assert b.metrics().waiting == 1
    clock.advance(0.001)
    t.join()
    assert len(errors) == 1 and isinstance(errors[0], BulkheadFullError)
    m = b.metrics()
    assert (m.in_use, m.waiting, m.rejected) == (1, 0, 1)
    b.release()


def test_a_cancel_wakes_a_waiter():
    b = Bulkhead(1)
    b.acquire()
    token = CancelToken()
    result = []

    def waiter():
        try:
            b.acquire(timeout=3600, cancel=token)
        except CancelledError as e:
            result.append(e)

    t = threading.Thread(target=waiter)
    t.start()
    wait_for(lambda: b.metrics().waiting == 1)
    token.cancel()
    t.join()
    assert len(result) == 1
    b.release()
    assert b.metrics().in_use == 0


def test_the_main_thread_waits_in_slices():
    # On the main thread with a real clock the wait is sliced (<= 100 ms per C call).
    b = Bulkhead(1)
    b.acquire()
    threading.Timer(0.15, b.release).start()
    b.acquire(timeout=3600)
    b.release()
    assert b.metrics().in_use == 0


def test_eight_threads_never_exceed_the_permits():
    b = Bulkhead(3, max_wait=3600)
    inside = [0]
    worst = [0]
    lock = threading.Lock()
    rounds = 2000

    def worker():
        for _ in range(rounds):
            with b:
                with lock:
                    inside[0] += 1
                    worst[0] = max(worst[0], inside[0])
                with lock:
                    inside[0] -= 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    m = b.metrics()
    assert 1 <= worst[0] <= 3
    assert (m.in_use, m.available, m.waiting, m.rejected) == (0, 3, 0, 0)
    assert m.acquired == 8 * rounds
    assert m.peak <= 3


@pytest.mark.parametrize(
    "args, kwargs, exc, match",
    [
        ((0,), {}, InvalidConfigError, "max_concurrent"),
        ((-1,), {}, ValueError, "max_concurrent: invalid value"),
        (("2",), {}, TypeError, "max_concurrent must be an int"),
        ((True,), {}, TypeError, "max_concurrent must be an int"),
        ((2,), {"max_wait": -1}, ValueError, "max_wait must not be negative"),
        ((2,), {"max_wait": "1"}, TypeError, "max_wait must be seconds"),
        ((2,), {"clock": 1}, TypeError, "clock must be"),
        ((2,), {"name": 1}, TypeError, "name must be a str"),
    ],
)
def test_bad_input(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Bulkhead(*args, **kwargs)


def test_bad_calls():
    b = Bulkhead(1)
    with pytest.raises(TypeError):
        b.acquire(cancel="x")
    with pytest.raises(ValueError):
        b.acquire(timeout=-1)
    with pytest.raises(TypeError):
        b.call(1)
    with pytest.raises(TypeError):
        b(1)
    assert b.metrics().in_use == 0
    b.close()
    with pytest.raises(ValueError, match="bulkhead is closed"):
        b.try_acquire()


@pytest.mark.parametrize("value", [0, -1, 2**32])
def test_max_concurrent_out_of_range_gets_the_library_message(value):
    with pytest.raises(breakwater.InvalidConfigError) as e:
        Bulkhead(value)
    text = str(e.value)
    assert text.startswith("invalid bulkhead configuration: max_concurrent")
    assert "[1, 2**32)" not in text


def test_unset_arguments_take_the_library_defaults():
    defaults = breakwater._lib.static_json(breakwater._lib.lib.bw_bulkhead_config_defaults_json)
    b = Bulkhead()
    assert b.config == defaults
    assert b.metrics().max == defaults["max_concurrent"]
