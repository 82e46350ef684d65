"""Exceptions: hierarchy, the mapping from C statuses and reasons, and real errors
from the library."""

import builtins
import ctypes
import threading

import pytest

import breakwater
from breakwater import _abi, _lib, errors


def make_error(status, reason=0, policy=0, message=b"msg", retry_after_ns=None):
    err = _abi.bw_error()
    err.status = status
    err.reason = reason
    err.policy = policy
    err.message = message
    if retry_after_ns is not None:
        err.has_retry_after = True
        err.retry_after_ns = retry_after_ns
    return err


@pytest.mark.parametrize(
    "reason, cls",
    [
        (_abi.REASON_OPEN, breakwater.CircuitOpenError),
        (_abi.REASON_TRIAL_FULL, breakwater.TrialFullError),
        (_abi.REASON_FORCED_OPEN, breakwater.ForcedOpenError),
        (_abi.REASON_BULKHEAD_FULL, breakwater.BulkheadFullError),
        (_abi.REASON_QUEUE_FULL, breakwater.QueueFullError),
        (_abi.REASON_RATE_LIMITED, breakwater.RateLimitedError),
        (_abi.REASON_BUDGET_EXHAUSTED, breakwater.RetryBudgetExhaustedError),
        (_abi.REASON_DEADLINE_EXCEEDED, breakwater.DeadlineExceededError),
    ],
)
def test_each_rejection_reason_has_its_class(reason, cls):
    e = errors.from_error(make_error(_abi.REJECTED, reason, _abi.POLICY_CIRCUIT_BREAKER))
    assert type(e) is cls
    assert isinstance(e, breakwater.RejectedError)
    assert isinstance(e, breakwater.BreakwaterError)
    assert e.status == _abi.REJECTED
    assert e.status_name == "BW_REJECTED"
    assert e.reason == reason
    assert e.policy == _abi.POLICY_CIRCUIT_BREAKER
    assert e.retry_after is None
    assert str(e) == "msg"


@pytest.mark.parametrize(
    "status, reason, cls",
    [
        (_abi.SHUTDOWN, _abi.REASON_SHUTDOWN, breakwater.ShutdownError),
        (_abi.SHUTDOWN, 0, breakwater.ShutdownError),
        (_abi.CANCELLED, _abi.REASON_CANCELLED, breakwater.CancelledError),
        (_abi.CANCELLED, 0, breakwater.CancelledError),
        (_abi.REJECTED, 0, breakwater.RejectedError),
        (_abi.REJECTED, 999, breakwater.RejectedError),
        (_abi.TIMED_OUT, 0, breakwater.TimeoutError),
        (_abi.FAILED, 0, breakwater.FailedError),
        (_abi.INVALID_ARGUMENT, 0, breakwater.InvalidArgumentError),
        (_abi.INVALID_CONFIG, 0, breakwater.InvalidConfigError),
        (_abi.PANIC, 0, breakwater.PanicError),
        (_abi.STALE, 0, breakwater.StaleError),
        (_abi.BUFFER_TOO_SMALL, 0, breakwater.BreakwaterError),
        (12345, 0, breakwater.BreakwaterError),
    ],
)
def test_each_status_has_its_class(status, reason, cls):
    e = errors.from_error(make_error(status, reason))
    assert type(e) is cls
    assert e.status == status


def test_the_hierarchy_meets_python_expectations():
    assert issubclass(breakwater.TimeoutError, builtins.TimeoutError)
    assert issubclass(breakwater.DeadlineExceededError, builtins.TimeoutError)
    assert issubclass(breakwater.DeadlineExceededError, breakwater.RejectedError)
    assert issubclass(breakwater.InvalidConfigError, ValueError)
    assert issubclass(breakwater.InvalidArgumentError, ValueError)
    assert issubclass(breakwater.TrialFullError, breakwater.CircuitOpenError)
    assert issubclass(breakwater.ForcedOpenError, breakwater.CircuitOpenError)
    for name in breakwater.__all__:
        obj = getattr(breakwater, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, breakwater.BreakwaterError), name


def test_retry_after_is_in_seconds():
    e = errors.from_error(
        make_error(_abi.REJECTED, _abi.REASON_RATE_LIMITED, _abi.POLICY_RATE_LIMITER,
                   retry_after_ns=250_000_000)
    )
    assert isinstance(e, breakwater.RateLimitedError)
    assert e.retry_after == 0.25


def test_messages_are_decoded_leniently():
    e = errors.from_error(make_error(_abi.FAILED, message="caf\u00e9 \xff".encode("latin-1")))
    assert e.message == "caf\ufffd \ufffd"


def test_a_failed_call_raises_with_the_library_message():
    with pytest.raises(breakwater.InvalidArgumentError, match="^clock must not be NULL$") as info:
        _lib.call(_lib.lib.bw_clock_now_ns, None, ctypes.byref(ctypes.c_uint64()))
    assert info.value.status == _abi.INVALID_ARGUMENT
    assert info.value.policy == _abi.POLICY_NONE
    assert breakwater.last_error_message() == "clock must not be NULL"


def test_out_parameters_are_untouched_on_failure():
    kind = ctypes.c_uint32(77)
    with pytest.raises(breakwater.InvalidArgumentError, match="^clock must not be NULL$"):
        _lib.call(_lib.lib.bw_clock_kind, None, ctypes.byref(kind))
    assert kind.value == 77


def test_an_out_of_range_enum_is_invalid_argument():
    out = _abi.CLOCK_P()
    with pytest.raises(breakwater.InvalidArgumentError) as info:
        _lib.call(_lib.lib.bw_clock_new, 5, ctypes.byref(out))
    assert str(info.value) == (
        "kind: 5 is not a valid value (expected 0 (BW_CLOCK_MONOTONIC) or 1 (BW_CLOCK_MANUAL))"
    )
    assert not out  # still NULL


def test_errors_are_per_thread():
    seen = {}

    def fail(name, ptr_is_null):
        try:
            if ptr_is_null:
                _lib.call(_lib.lib.bw_cancel_cancel, None)
            else:
                _lib.call(_lib.lib.bw_clock_advance_ns, None, 1)
        except breakwater.InvalidArgumentError as e:
            seen[name] = (str(e), breakwater.last_error_message())

    threads = [threading.Thread(target=fail, args=(i, i % 2 == 0)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(8):
        expected = "cancel must not be NULL" if i % 2 == 0 else "clock must not be NULL"
        assert seen[i] == (expected, expected)
