"""Cooperative deadlines (:class:`Deadline`), and the waits the policies share: sleeping
through a clock in slices of at most 100 ms (so Ctrl-C works), or advancing a manual
clock instead of sleeping."""

from __future__ import annotations

import ctypes
import time
from ctypes import POINTER, c_bool, c_uint64
from typing import Optional

from . import _abi, _lib
from ._handle import Handle
from ._lib import KEEP_GIL, call, lib
from .cancel import CancelToken
from .clock import Clock, ManualClock, Seconds, to_nanos
from .errors import CancelledError


class bw_deadline(ctypes.Structure):
    """Opaque ``bw_deadline`` (only used through pointers)."""


DEADLINE_P = POINTER(bw_deadline)

_lib.declare(
    {
        "bw_deadline_new": (
            ctypes.c_int32,
            [_abi.CLOCK_P, c_uint64, POINTER(DEADLINE_P), _abi.ERROR_P],
            KEEP_GIL,
        ),
        "bw_deadline_remaining_ns": (
            ctypes.c_int32,
            [DEADLINE_P, POINTER(c_uint64), _abi.ERROR_P],
            KEEP_GIL,
        ),
        "bw_deadline_expired": (
            ctypes.c_int32,
            [DEADLINE_P, POINTER(c_bool), _abi.ERROR_P],
            KEEP_GIL,
        ),
        "bw_deadline_at_ns": (
            ctypes.c_int32,
            [DEADLINE_P, POINTER(c_uint64), _abi.ERROR_P],
            KEEP_GIL,
        ),
        "bw_deadline_free": (None, [DEADLINE_P], KEEP_GIL),
    }
)

#: The longest a binding waits inside one call, so that Ctrl-C is seen promptly.
SLICE_NS = 100_000_000


def clock_pointer(clock: Optional[Clock]) -> object:
    """The C pointer of an optional clock (``None``: the monotonic clock)."""
    if clock is None:
        return None
    if not isinstance(clock, Clock):
        raise TypeError(f"clock must be a breakwater Clock or None, not {type(clock).__name__}")
    return clock._pointer()


def cancel_pointer(cancel: Optional[CancelToken]) -> object:
    """The C pointer of an optional cancellation token."""
    if cancel is None:
        return None
    if not isinstance(cancel, CancelToken):
        raise TypeError(f"cancel must be a CancelToken or None, not {type(cancel).__name__}")
    return cancel._pointer()


def sleep_ns(clock: Optional[Clock], ns: int, cancel: Optional[CancelToken] = None) -> None:
    """Waits ``ns`` nanoseconds on ``clock``: advances a :class:`ManualClock` at once;
    otherwise sleeps (releasing the GIL) in slices of at most 100 ms, so that Ctrl-C
    interrupts it. Raises :class:`CancelledError` when ``cancel`` is cancelled first."""
    if cancel is not None and cancel.cancelled:
        raise CancelledError("cancelled", status=_abi.CANCELLED, reason=_abi.REASON_CANCELLED)
    if isinstance(clock, ManualClock):
        clock.advance_ns(ns)
        return
    end = time.monotonic_ns() + ns
    while True:
        left = end - time.monotonic_ns()
        if left <= 0:
            return
        time.sleep(min(left, SLICE_NS) / 1e9)
        if cancel is not None and cancel.cancelled:
            raise CancelledError(
                "cancelled", status=_abi.CANCELLED, reason=_abi.REASON_CANCELLED
            )


class Deadline:
    """A cooperative deadline ``timeout`` from now on a clock (``None``: the monotonic
    clock): nothing is interrupted when it passes; code asks :meth:`remaining` or
    :attr:`expired`. A context manager that frees its handle on exit.

    >>> from breakwater import Deadline, ManualClock
    >>> clock = ManualClock()
    >>> with Deadline(2.0, clock=clock) as d:
    ...     clock.advance(0.5)
    ...     d.remaining()
    1.5
    """

    def __init__(self, timeout: Seconds, *, clock: Optional[Clock] = None) -> None:
        ns = to_nanos(timeout, "timeout")
        ptr = DEADLINE_P()
        call(lib.bw_deadline_new, clock_pointer(clock), ns, ctypes.byref(ptr))
        self._h = Handle(self, ptr, lib.bw_deadline_free, "deadline")
        self.clock = clock

    def remaining_ns(self) -> int:
        """Nanoseconds left (0 once passed)."""
        out = c_uint64()
        call(lib.bw_deadline_remaining_ns, self._h.get(), ctypes.byref(out))
        return out.value

    def remaining(self) -> float:
        """Seconds left (0.0 once passed)."""
        return self.remaining_ns() / 1e9

    @property
    def expired(self) -> bool:
        """``True`` once the clock reads at or past the deadline."""
        out = c_bool()
        call(lib.bw_deadline_expired, self._h.get(), ctypes.byref(out))
        return bool(out.value)

    @property
    def at_ns(self) -> int:
        """The deadline as a reading of its clock, in nanoseconds."""
        out = c_uint64()
        call(lib.bw_deadline_at_ns, self._h.get(), ctypes.byref(out))
        return out.value

    def close(self) -> None:
        """Makes later calls raise ``ValueError``. Idempotent."""
        self._h.close()

    def __enter__(self) -> "Deadline":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._h.closed:
            return "Deadline(closed)"
        return f"Deadline(remaining={self.remaining()!r})"
