"""The rate limiter: :class:`RateLimiter` (``permits`` per ``period`` with a ``burst``),
usable as ``with limiter:``, as a decorator, or through :meth:`RateLimiter.try_acquire` /
:meth:`RateLimiter.acquire`. A refusal raises :class:`~breakwater.RateLimitedError`
whose ``retry_after`` (seconds) says when a permit will be free."""

from __future__ import annotations

import ctypes
import functools
import json
from ctypes import POINTER, c_int32, c_size_t, c_uint32, c_uint64
from dataclasses import dataclass
from typing import Any, Callable, Optional, TypeVar

from . import _abi, _lib, errors
from ._handle import Handle
from ._lib import KEEP_GIL, RELEASE_GIL, call, lib
from .cancel import CancelToken
from .clock import Clock, Seconds, to_nanos
from .deadline import SLICE_NS, cancel_pointer, clock_pointer, sleep_ns
from .errors import RateLimitedError


class bw_limiter(ctypes.Structure):
    """Opaque ``bw_limiter``."""


class bw_limiter_stats(ctypes.Structure):
    """``struct bw_limiter_stats`` (size-tagged)."""

    _fields_ = [
        ("size", c_size_t),
        ("permitted", c_uint64),
        ("rejected", c_uint64),
        ("waited", c_uint64),
        ("available", c_uint64),
        ("burst", c_uint64),
        ("emission_interval_ns", c_uint64),
    ]


LIMITER_P = POINTER(bw_limiter)

_lib.declare(
    {
        "bw_limiter_new_json": (
            c_int32,
            [ctypes.c_char_p, c_size_t, _abi.CLOCK_P, POINTER(LIMITER_P), _abi.ERROR_P],
            KEEP_GIL,
        ),
        "bw_limiter_try_acquire": (
            c_int32,
            [LIMITER_P, c_uint32, POINTER(c_uint64), _abi.ERROR_P],
            KEEP_GIL,
        ),
        # Blocks: releases the GIL.
        "bw_limiter_acquire_timeout": (
            c_int32,
            [LIMITER_P, c_uint64, _abi.CANCEL_P, _abi.ERROR_P],
            RELEASE_GIL,
        ),
        "bw_limiter_metrics": (
            c_int32,
            [LIMITER_P, POINTER(bw_limiter_stats), _abi.ERROR_P],
            KEEP_GIL,
        ),
        "bw_limiter_free": (None, [LIMITER_P], KEEP_GIL),
    }
)

F = TypeVar("F", bound=Callable[..., Any])


def settings(
    *,
    permits: Optional[int] = None,
    period: Optional[Seconds] = None,
    burst: Optional[int] = None,
    max_wait: Optional[Seconds] = None,
    name: Optional[str] = None,
) -> dict[str, Any]:
    """The JSON form (``bw_limiter_new_json``) of the settings given. Only what is given
    is sent; None is the library's default (bw_limiter_config_defaults_json), which also
    validates every value."""
    sent: dict[str, Any] = {}
    for value, what in ((permits, "permits"), (burst, "burst")):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{what} must be an int, not {type(value).__name__}")
        sent[what] = value
    if name is not None:
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        sent["name"] = name
    if period is not None:
        sent["period_ms"] = to_nanos(period, "period") / 1e6
    if max_wait is not None:
        sent["max_wait_ms"] = to_nanos(max_wait, "max_wait") / 1e6
    return sent


@dataclass(frozen=True)
class RateLimiterMetrics:
    """A snapshot of a rate limiter's counters."""

    permitted: int
    rejected: int
    waited: int
    available: int
    burst: int
    emission_interval: float


class RateLimiter:
    """``permits`` per ``period`` (seconds or a timedelta) with a ``burst`` (default:
    ``permits``). ``with limiter:`` and the decorator take one permit, waiting up to
    ``max_wait`` (default 0: fail at once), and raise :class:`RateLimitedError`.

    Waits sleep in slices of at most 100 ms with the GIL released (Ctrl-C works), or
    advance a :class:`~breakwater.ManualClock`. Each refused try counts in
    ``metrics().rejected``, a wait's too.

    >>> from breakwater import ManualClock, RateLimiter, RateLimitedError
    >>> clock = ManualClock()
    >>> limiter = RateLimiter(2, 1.0, clock=clock)
    >>> limiter.try_acquire(), limiter.try_acquire(), limiter.try_acquire()
    (True, True, False)
    >>> limiter.acquire(timeout=1.0)
    >>> clock.now()
    0.5
    """

    def __init__(
        self,
        permits: Optional[int] = None,
        period: Optional[Seconds] = None,
        *,
        burst: Optional[int] = None,
        max_wait: Optional[Seconds] = None,
        name: Optional[str] = None,
        clock: Optional[Clock] = None,
    ) -> None:
        sent = settings(permits=permits, period=period, burst=burst, max_wait=max_wait, name=name)
        text = json.dumps(sent).encode()
        ptr = LIMITER_P()
        call(lib.bw_limiter_new_json, text, len(text), clock_pointer(clock), ctypes.byref(ptr))
        self._adopt(ptr, sent, clock)

    def _adopt(self, ptr: Any, sent: dict[str, Any], clock: Optional[Clock]) -> None:
        config: dict[str, Any] = {**_lib.static_json(lib.bw_limiter_config_defaults_json), **sent}
        self.max_wait: Seconds = config["max_wait_ms"] / 1000
        self._h = Handle(self, ptr, lib.bw_limiter_free, errors.Policy.RATE_LIMITER.label)
        self.clock = clock
        self.config = config

    @classmethod
    def _from_handle(
        cls, ptr: Any, config: dict[str, Any], clock: Optional[Clock]
    ) -> "RateLimiter":
        """A limiter over a handle the library gave (``bw_registry_rate_limiter``), whose
        configuration is ``config`` (the JSON form, over the defaults) and whose waits
        go through ``clock``."""
        self = cls.__new__(cls)
        self._adopt(ptr, config, clock)
        return self

    @staticmethod
    def _n(n: Any) -> int:
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"n must be an int, not {type(n).__name__}")
        if not 0 <= n < 2**32:
            raise ValueError(f"n must be in [0, 2**32), got {n}")
        return n

    def _try(self, n: int) -> None:
        call(lib.bw_limiter_try_acquire, self._h.get(), n, None)

    def try_acquire(self, n: int = 1) -> bool:
        """Takes ``n`` permits if they are all free now; never waits."""
        n = self._n(n)
        try:
            self._try(n)
        except RateLimitedError:
            return False
        return True

    def acquire(
        self, n: int = 1, timeout: Optional[Seconds] = None, cancel: Optional[CancelToken] = None
    ) -> None:
        """Takes ``n`` permits, waiting only when they will be free within ``timeout``
        (``None``: without limit); otherwise raises :class:`RateLimitedError` at once
        (with ``retry_after``). Raises :class:`~breakwater.CancelledError` when
        ``cancel`` is cancelled during the wait."""
        n = self._n(n)
        cancel_pointer(cancel)
        limit = None if timeout is None else to_nanos(timeout, "timeout")
        waited = 0
        while True:
            try:
                self._try(n)
                return
            except RateLimitedError as e:
                ra = round((e.retry_after or 0.0) * 1e9)
                if e.retry_after is None or ra >= 2**64 - 1:
                    raise
                if limit is not None and waited + ra > limit:
                    raise
                step = ra if self.clock is not None and _is_manual(self.clock) else min(ra, SLICE_NS)
                step = max(step, 1)
            sleep_ns(self.clock, step, cancel)
            waited += step

    def __enter__(self) -> "RateLimiter":
        self.acquire(timeout=self.max_wait)
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __call__(self, fn: F) -> F:
        """Decorates ``fn``: each call takes a permit first (waiting up to ``max_wait``)."""
        if not callable(fn):
            raise TypeError(f"a RateLimiter decorates a callable, not {type(fn).__name__}")

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.acquire(timeout=self.max_wait)
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def metrics(self) -> RateLimiterMetrics:
        """A snapshot of the counters."""
        m = bw_limiter_stats()
        m.size = ctypes.sizeof(m)
        call(lib.bw_limiter_metrics, self._h.get(), ctypes.byref(m))
        return RateLimiterMetrics(
            permitted=m.permitted,
            rejected=m.rejected,
            waited=m.waited,
            available=m.available,
            burst=m.burst,
            emission_interval=m.emission_interval_ns / 1e9,
        )

    def close(self) -> None:
        """Makes later calls raise ``ValueError``. Idempotent."""
        self._h.close()

    def __repr__(self) -> str:
        return f"RateLimiter({self.config!r})"


def _is_manual(clock: Clock) -> bool:
    from .clock import ManualClock

    return isinstance(clock, ManualClock)
