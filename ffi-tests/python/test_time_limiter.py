"""The time limiter through Python: the callable runs on a library thread, its
exception comes back unchanged, a stuck call times out and sees its flag set."""

import threading

import pytest

import breakwater
from breakwater import QueueFullError, TimeLimiter


def test_a_quick_call_returns_its_value_from_a_library_thread():
    limiter = TimeLimiter(timeout=30, max_threads=2, name="quick")
    assert limiter.call(lambda: threading.current_thread().ident) != threading.get_ident()
    assert limiter.call(lambda a, b: a * b, 6, 7) == 42
    assert limiter.metrics.threads_spawned == 1


def test_the_exception_is_re_raised_unchanged():
    error = LookupError("authors")

    @TimeLimiter(timeout=30)
    def fail():
        raise error

    with pytest.raises(LookupError) as info:
        fail()
    assert info.value is error


def test_a_stuck_call_times_out_and_sees_its_cancel_flag():
    gate = threading.Event()
    seen = []

    def stuck(flag):
        gate.wait()
        seen.append(flag.cancelled())
        return 1

    limiter = TimeLimiter(timeout=0.001, max_threads=1)
    with pytest.raises(breakwater.TimeoutError):
        limiter.call(stuck, pass_cancel=True)
    with pytest.raises(QueueFullError):  # its only thread is still taken
        limiter.call(lambda: 2)
    gate.set()
    while limiter.metrics.busy:
        gate.wait(0.001)
    assert seen == [True]
    m = limiter.metrics
    assert (m.timed_out, m.rejected, m.threads_spawned) == (1, 1, 1)


def test_a_cancelled_call_is_refused():
    token = breakwater.CancelToken()
    token.cancel()
    with pytest.raises(breakwater.CancelledError):
        TimeLimiter().call(lambda: 1, cancel=token)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="timeout"):
        TimeLimiter(timeout=0)
    with pytest.raises(ValueError, match="max_threads"):
        TimeLimiter(max_threads=0)
    with pytest.raises(TypeError, match="max_threads"):
        TimeLimiter(max_threads=1.5)
    with pytest.raises(TypeError, match="callable"):
        TimeLimiter().call(None)
    limiter = TimeLimiter()
    limiter.close()
    with pytest.raises(ValueError, match="closed"):
        limiter.call(lambda: 1)


def test_main_thread_wait_is_interruptible_and_cancels_the_call() -> None:
    """Ctrl-C on the main thread interrupts the sliced wait: the call is cancelled and
    the callable sees its flag (SPEC 12: waits in slices so Ctrl-C works)."""
    import _thread
    import threading as _threading

    from breakwater import TimeLimiter

    assert _threading.current_thread() is _threading.main_thread()
    started = _threading.Event()
    release = _threading.Event()
    finished = _threading.Event()
    seen: list[bool] = []

    def stuck(flag: object) -> int:
        started.set()
        release.wait(30)
        seen.append(flag.cancelled())  # type: ignore[attr-defined]
        finished.set()
        return 1

    def interrupt() -> None:
        started.wait(30)
        _thread.interrupt_main()

    limiter = TimeLimiter(timeout=60, max_threads=1)
    t = _threading.Thread(target=interrupt)
    t.start()
    try:
        limiter.call(stuck, pass_cancel=True)
        raise AssertionError("expected KeyboardInterrupt")
    except KeyboardInterrupt:
        pass
    finally:
        t.join()
        release.set()
    # The abandoned callable finishes and saw its cancellation flag.
    assert finished.wait(30)
    assert seen == [True]
