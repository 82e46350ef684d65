"""The semaphore bulkhead: :class:`Bulkhead` (at most ``max_concurrent`` calls at once),
usable as ``with bulkhead:``, as a decorator, through :meth:`Bulkhead.call`, or with
:meth:`Bulkhead.acquire` / :meth:`Bulkhead.release`. A refusal raises
:class:`~breakwater.BulkheadFullError`."""

from __future__ import annotations

import ctypes
import functools
import json
import threading
from ctypes import POINTER, c_int32, c_size_t, c_uint64
from dataclasses import dataclass
from typing import Any, Callable, Optional, TypeVar

from . import _abi, _lib, errors
from ._handle import Handle
from ._lib import KEEP_GIL, RELEASE_GIL, call, lib
from .cancel import CancelToken
from .clock import Clock, ManualClock, Seconds, to_nanos
from .deadline import SLICE_NS, cancel_pointer, clock_pointer
from .errors import BulkheadFullError


class bw_bulkhead(ctypes.Structure):
    """Opaque ``bw_bulkhead``."""


class bw_bulkhead_stats(ctypes.Structure):
    """``struct bw_bulkhead_stats`` (size-tagged)."""

    _fields_ = [
        ("size", c_size_t),
        ("max", c_uint64),
        ("available", c_uint64),
        ("in_use", c_uint64),
        ("waiting", c_uint64),
        ("rejected", c_uint64),
        ("peak", c_uint64),
        ("acquired", c_uint64),
    ]


BULKHEAD_P = POINTER(bw_bulkhead)
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)

_lib.declare(
    {
        "bw_bulkhead_new_json": (
            c_int32,
            [ctypes.c_char_p, c_size_t, _abi.CLOCK_P, POINTER(BULKHEAD_P), _abi.ERROR_P],
            KEEP_GIL,
        ),
        "bw_bulkhead_try_acquire": (c_int32, [BULKHEAD_P, _abi.ERROR_P], KEEP_GIL),
        # Blocks: releases the GIL.
        "bw_bulkhead_acquire": (
            c_int32,
            [BULKHEAD_P, c_uint64, _abi.CANCEL_P, _abi.ERROR_P],
            RELEASE_GIL,
        ),
        # Wakes a waiter, which needs no GIL: keeping it is fine.
        "bw_bulkhead_release": (c_int32, [BULKHEAD_P, _abi.ERROR_P], KEEP_GIL),
        # Blocks and calls back (not used by the binding, which runs Python code in
        # Python; declared for completeness).
        "bw_bulkhead_call": (
            c_int32,
            [BULKHEAD_P, _CALLBACK, ctypes.c_void_p, _abi.CANCEL_P, POINTER(ctypes.c_int), _abi.ERROR_P],
            RELEASE_GIL,
        ),
        "bw_bulkhead_metrics": (
            c_int32,
            [BULKHEAD_P, POINTER(bw_bulkhead_stats), _abi.ERROR_P],
            KEEP_GIL,
        ),
        "bw_bulkhead_free": (None, [BULKHEAD_P], KEEP_GIL),
    }
)

F = TypeVar("F", bound=Callable[..., Any])
_NO_LIMIT = 2**64 - 1


def settings(
    *,
    max_concurrent: Optional[int] = None,
    max_wait: Optional[Seconds] = None,
    name: Optional[str] = None,
) -> dict[str, Any]:
    """The JSON form (``bw_bulkhead_new_json``) of the settings given. Only what is
    given is sent; None is the library's default (bw_bulkhead_config_defaults_json),
    which also validates every value."""
    sent: dict[str, Any] = {}
    if max_concurrent is not None:
        if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, int):
            raise TypeError(f"max_concurrent must be an int, not {type(max_concurrent).__name__}")
        sent["max_concurrent"] = max_concurrent
    if name is not None:
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        sent["name"] = name
    if max_wait is not None:
        sent["max_wait_ms"] = to_nanos(max_wait, "max_wait") / 1e6
    return sent


@dataclass(frozen=True)
class BulkheadMetrics:
    """A snapshot of a bulkhead's counters."""

    max: int
    available: int
    in_use: int
    waiting: int
    rejected: int
    peak: int
    acquired: int


class Bulkhead:
    """At most ``max_concurrent`` calls at once; callers beyond wait (first come, first
    served) up to ``max_wait`` (seconds or a timedelta; default 0: fail at once).

    ``with bulkhead:`` / the decorator / :meth:`call` hold a permit around the code and
    release it however the code ends (an exception is re-raised unchanged).

    Waiting releases the GIL. On the main thread (where Ctrl-C is delivered) and a real
    clock it waits in slices of at most 100 ms, re-queueing after each (each slice that
    ends without a permit counts in ``metrics().rejected``); other threads, and waits on
    a :class:`~breakwater.ManualClock`, wait in one call (a cancel token still wakes them).

    >>> from breakwater import Bulkhead, BulkheadFullError
    >>> b = Bulkhead(1)
    >>> with b:
    ...     b.try_acquire()
    False
    >>> b.metrics().in_use
    0
    """

    def __init__(
        self,
        max_concurrent: Optional[int] = None,
        *,
        max_wait: Optional[Seconds] = None,
        name: Optional[str] = None,
        clock: Optional[Clock] = None,
    ) -> None:
        sent = settings(max_concurrent=max_concurrent, max_wait=max_wait, name=name)
        text = json.dumps(sent).encode()
        ptr = BULKHEAD_P()
        call(lib.bw_bulkhead_new_json, text, len(text), clock_pointer(clock), ctypes.byref(ptr))
        self._adopt(ptr, sent, clock)

    def _adopt(self, ptr: Any, sent: dict[str, Any], clock: Optional[Clock]) -> None:
        config = {**_lib.static_json(lib.bw_bulkhead_config_defaults_json), **sent}
        self._max_wait_ns = round(config["max_wait_ms"] * 1e6)
        self._h = Handle(self, ptr, lib.bw_bulkhead_free, errors.Policy.BULKHEAD.label)
        self.clock = clock
        self.config = config

    @classmethod
    def _from_handle(cls, ptr: Any, config: dict[str, Any]) -> "Bulkhead":
        """A bulkhead over a handle the library gave (``bw_registry_bulkhead``), whose
        configuration is ``config`` (the JSON form, over the defaults)."""
        self = cls.__new__(cls)
        self._adopt(ptr, config, None)
        return self

    def try_acquire(self) -> bool:
        """Takes a permit if one is free now (give it back with :meth:`release`)."""
        try:
            call(lib.bw_bulkhead_try_acquire, self._h.get())
        except BulkheadFullError:
            return False
        return True

    def acquire(self, timeout: Optional[Seconds] = None, cancel: Optional[CancelToken] = None) -> None:
        """Takes a permit, waiting up to ``timeout`` (``None``: the configured
        ``max_wait``; ``float('inf')`` is not accepted, use a large value). Raises
        :class:`BulkheadFullError` when none came free in time,
        :class:`~breakwater.CancelledError` when ``cancel`` was cancelled first. Give the
        permit back with :meth:`release`."""
        total = self._max_wait_ns if timeout is None else to_nanos(timeout, "timeout")
        cp = cancel_pointer(cancel)
        ptr = self._h.get()
        sliced = (
            threading.current_thread() is threading.main_thread()
            and not isinstance(self.clock, ManualClock)
            and total > SLICE_NS
        )
        if not sliced:
            call(lib.bw_bulkhead_acquire, ptr, total, cp)
            return
        left = total
        while True:
            step = min(left, SLICE_NS)
            try:
                call(lib.bw_bulkhead_acquire, ptr, step, cp)
                return
            except BulkheadFullError:
                left -= step
                if left <= 0:
                    raise

    def release(self) -> None:
        """Gives back a permit taken with :meth:`try_acquire` / :meth:`acquire`. Raises
        ``ValueError`` (an :class:`~breakwater.InvalidArgumentError`) when none is held;
        nothing changes then."""
        call(lib.bw_bulkhead_release, self._h.get())

    def __enter__(self) -> "Bulkhead":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Runs ``fn(*args, **kwargs)`` holding a permit (waiting up to ``max_wait``)."""
        if not callable(fn):
            raise TypeError(f"fn must be callable, not {type(fn).__name__}")
        with self:
            return fn(*args, **kwargs)

    def __call__(self, fn: F) -> F:
        """Decorates ``fn``: each call holds a permit."""
        if not callable(fn):
            raise TypeError(f"a Bulkhead decorates a callable, not {type(fn).__name__}")

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return self.call(fn, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def metrics(self) -> BulkheadMetrics:
        """A snapshot of the counters."""
        m = bw_bulkhead_stats()
        m.size = ctypes.sizeof(m)
        call(lib.bw_bulkhead_metrics, self._h.get(), ctypes.byref(m))
        return BulkheadMetrics(
            max=m.max,
            available=m.available,
            in_use=m.in_use,
            waiting=m.waiting,
            rejected=m.rejected,
            peak=m.peak,
            acquired=m.acquired,
        )

    def close(self) -> None:
        """Makes later calls raise ``ValueError``. Idempotent. Permits still held are
        dropped with the bulkhead when it is garbage-collected."""
        self._h.close()

    def __repr__(self) -> str:
        return f"Bulkhead({self.config!r})"
