"""Clocks: the monotonic clock, and a manual clock that tests step by hand.

Policies take an optional ``clock=`` argument; on a :class:`ManualClock` every timed
wait (breaker open duration, bulkhead wait, limiter wait) ends only when the clock is
advanced past its deadline, so tests never sleep.
"""

from __future__ import annotations

import ctypes
import math
from datetime import timedelta
from typing import Union

from . import _abi
from ._handle import Handle
from ._lib import call, lib

Seconds = Union[int, float, timedelta]

_NS_MAX = 2**64 - 1


def to_nanos(value: Seconds, name: str = "duration") -> int:
    """``value`` (seconds as ``int`` or ``float``, or a ``timedelta``) in nanoseconds.

    Raises ``TypeError`` for other types (``bool`` included) and ``ValueError`` for
    negative, NaN, infinite or too large (over 2**64 - 1 ns, about 584 years) values.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, timedelta)):
        raise TypeError(
            f"{name} must be seconds (int or float) or a timedelta, not {type(value).__name__}"
        )
    if isinstance(value, timedelta):
        ns = (value // timedelta(microseconds=1)) * 1000
    elif isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError(f"{name} must be finite, not {value}")
        if value > _NS_MAX / 1e9:
            raise ValueError(f"{name} is too large: {value!r} (at most 2**64 - 1 ns)")
        ns = round(value * 1_000_000_000)
    else:
        ns = value * 1_000_000_000
    if ns < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    if ns > _NS_MAX:
        raise ValueError(f"{name} is too large: {value!r} (at most 2**64 - 1 ns)")
    return ns


class Clock:
    """A clock handle. Use :class:`MonotonicClock` or :class:`ManualClock`."""

    _kind_name = "clock"

    def __init__(self, kind: int) -> None:
        ptr = _abi.CLOCK_P()
        call(lib.bw_clock_new, kind, ctypes.byref(ptr))
        self._h = Handle(self, ptr, lib.bw_clock_free, self._kind_name)

    def now_ns(self) -> int:
        """The clock's time in nanoseconds (since creation for a manual clock)."""
        out = ctypes.c_uint64()
        call(lib.bw_clock_now_ns, self._h.get(), ctypes.byref(out))
        return out.value

    def now(self) -> float:
        """The clock's time in seconds."""
        return self.now_ns() / 1e9

    @property
    def closed(self) -> bool:
        """``True`` after :meth:`close`."""
        return self._h.closed

    def close(self) -> None:
        """Releases the clock; later calls raise ``ValueError``. Policies built with it
        keep working (they hold their own reference). Idempotent."""
        self._h.close()

    def __enter__(self) -> "Clock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pointer(self) -> "ctypes._Pointer[_abi.bw_clock]":
        """The C pointer, for policy constructors."""
        return self._h.get()


class MonotonicClock(Clock):
    """The machine's monotonic clock (what policies use when given no clock).

    >>> from breakwater import MonotonicClock
    >>> clock = MonotonicClock()
    >>> clock.now_ns() <= clock.now_ns()
    True
    """

    _kind_name = "monotonic clock"

    def __init__(self) -> None:
        super().__init__(_abi.CLOCK_MONOTONIC)

    def __repr__(self) -> str:
        return "MonotonicClock()"


class ManualClock(Clock):
    """A clock that moves only when advanced; starts at 0.

    >>> from datetime import timedelta
    >>> from breakwater import ManualClock
    >>> clock = ManualClock()
    >>> clock.advance(1.5)
    >>> clock.advance(timedelta(milliseconds=250))
    >>> clock.now_ns()
    1750000000
    """

    _kind_name = "manual clock"

    def __init__(self) -> None:
        super().__init__(_abi.CLOCK_MANUAL)

    def advance(self, delta: Seconds) -> None:
        """Moves the clock forward by ``delta`` (seconds as ``int``/``float``, or a
        ``timedelta``) and wakes every timed wait whose deadline has come.

        Raises ``TypeError`` for other types, ``ValueError`` for negative, NaN, infinite
        or too large values, or a closed clock."""
        self.advance_ns(to_nanos(delta, "delta"))

    def advance_ns(self, ns: int) -> None:
        """Moves the clock forward by ``ns`` nanoseconds (see :meth:`advance`); the time
        saturates at 2**64 - 1 ns."""
        if isinstance(ns, bool) or not isinstance(ns, int):
            raise TypeError(f"ns must be an int, not {type(ns).__name__}")
        if not 0 <= ns <= _NS_MAX:
            raise ValueError(f"ns must be in [0, 2**64 - 1], got {ns}")
        call(lib.bw_clock_advance_ns, self._h.get(), ns)

    def __repr__(self) -> str:
        if self.closed:
            return "ManualClock(closed)"
        return f"ManualClock(now_ns={self.now_ns()})"
