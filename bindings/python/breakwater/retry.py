"""Retry: :class:`Retry` (a policy object, a decorator, ``retry.call(fn, *args)``), the
:func:`retry` decorator, and :class:`RetryState` for running attempts by hand.

The schedule (backoff, cap, jitter, floor, time budget, shared retry budget) is the
library's; the attempts run in Python, on the calling thread. Between attempts the
call sleeps in slices of at most 100 ms with the GIL released (Ctrl-C works), or
advances a :class:`~breakwater.ManualClock` instead of sleeping.
"""

from __future__ import annotations

import ctypes
import enum
import functools
import json
import math
from ctypes import POINTER, c_int32, c_size_t, c_uint32, c_uint64
from typing import Any, Callable, Optional, TypeVar, Union

from . import _abi, _lib, errors
from ._handle import Handle
from ._lib import KEEP_GIL, RELEASE_GIL, call, lib
from .clock import Clock, Seconds, to_nanos
from .deadline import Deadline, clock_pointer, sleep_ns
from .errors import RejectedError


class bw_retry(ctypes.Structure):
    """Opaque ``bw_retry``."""


class bw_retry_state(ctypes.Structure):
    """Opaque ``bw_retry_state``."""


RETRY_P = POINTER(bw_retry)
STATE_P = POINTER(bw_retry_state)
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, c_uint32)

_lib.declare(
    {
        "bw_retry_new_json": (
            c_int32,
            [ctypes.c_char_p, c_size_t, _abi.CLOCK_P, POINTER(RETRY_P), _abi.ERROR_P],
            KEEP_GIL,
        ),
        "bw_retry_begin": (c_int32, [RETRY_P, c_uint64, POINTER(STATE_P), _abi.ERROR_P], KEEP_GIL),
        "bw_retry_next": (
            c_int32,
            [STATE_P, c_uint32, c_uint64, POINTER(c_uint64), POINTER(c_uint32), _abi.ERROR_P],
            KEEP_GIL,
        ),
        "bw_retry_state_attempt": (c_int32, [STATE_P, POINTER(c_uint32), _abi.ERROR_P], KEEP_GIL),
        "bw_retry_state_free": (None, [STATE_P], KEEP_GIL),
        # Sleeps between attempts and calls back: releases the GIL (not used by the
        # binding, which runs attempts in Python; declared for completeness).
        "bw_retry_call": (
            c_int32,
            [RETRY_P, _CALLBACK, ctypes.c_void_p, _abi.CANCEL_P, POINTER(ctypes.c_int), _abi.ERROR_P],
            RELEASE_GIL,
        ),
        "bw_retry_free": (None, [RETRY_P], KEEP_GIL),
        "bw_retry_delays_ns": (
            c_int32,
            [RETRY_P, POINTER(c_uint64), c_size_t, POINTER(c_size_t), _abi.ERROR_P],
            KEEP_GIL,
        ),
    }
)


class RetryOutcome(enum.IntEnum):
    """What an attempt's outcome means to the retry (``BW_RETRY_OUTCOME_*``)."""

    SUCCESS = _abi.RETRY_OUTCOME_SUCCESS
    RETRYABLE = _abi.RETRY_OUTCOME_RETRYABLE
    PERMANENT = _abi.RETRY_OUTCOME_PERMANENT
    REJECTED = _abi.RETRY_OUTCOME_REJECTED


class StopReason(enum.IntEnum):
    """Why a retry stopped (``BW_RETRY_STOP_*``)."""

    SUCCEEDED = _abi.RETRY_STOP_SUCCEEDED
    ATTEMPTS_EXHAUSTED = _abi.RETRY_STOP_ATTEMPTS_EXHAUSTED
    PERMANENT = _abi.RETRY_STOP_PERMANENT
    REJECTED = _abi.RETRY_STOP_REJECTED
    BUDGET_EXHAUSTED = _abi.RETRY_STOP_BUDGET_EXHAUSTED
    DEADLINE_REACHED = _abi.RETRY_STOP_DEADLINE_REACHED


F = TypeVar("F", bound=Callable[..., Any])
RetryOn = Union[type, tuple, Callable[[BaseException], bool]]


def _ms(value: Seconds, name: str) -> float:
    return to_nanos(value, name) / 1e6


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return value


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"{name} must be finite, not {value}")
    return float(value)


def _config(
    max_attempts: Optional[int],
    backoff: Optional[str],
    initial: Optional[Seconds],
    multiplier: Optional[float],
    step: Optional[Seconds],
    max_delay: Optional[Seconds],
    jitter: Union[None, str, float],
    min_delay: Optional[Seconds],
    max_elapsed: Optional[Seconds],
    seed: Optional[int],
    budget: Union[None, bool, dict],
    name: Optional[str],
) -> dict:
    """The JSON configuration: only what is given (``None``: the library's default,
    ``bw_retry_config_defaults_json``); the library validates every value (backoff and
    jitter names included) with messages naming the key."""
    c: dict[str, Any] = {}
    if name is not None:
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        c["name"] = name
    if max_attempts is not None:
        c["max_attempts"] = _int(max_attempts, "max_attempts")
    if backoff is not None:
        if not isinstance(backoff, str):
            raise TypeError(f"backoff must be a str, not {type(backoff).__name__}")
        c["backoff"] = backoff
    for key, value in (("initial", initial), ("step", step), ("min_delay", min_delay),
                       ("max_delay", max_delay), ("max_elapsed", max_elapsed)):
        if value is not None:
            c[key + "_ms"] = _ms(value, key)
    if multiplier is not None:
        c["multiplier"] = _number(multiplier, "multiplier")
    if seed is not None:
        c["seed"] = _int(seed, "seed")
        if not 0 <= seed < 2**64:
            raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    if isinstance(jitter, str):
        c["jitter"] = jitter
    elif jitter is not None:
        c["jitter"] = "proportional"
        c["jitter_factor"] = _number(jitter, "jitter")
    if budget is True:
        c["budget"] = {}
    elif isinstance(budget, dict):
        b: dict[str, Any] = {}
        for key, value in budget.items():
            if key == "percent":
                b["percent"] = _number(value, "budget['percent']")
            elif key == "ttl":
                b["ttl_ms"] = _ms(value, "budget['ttl']")
            elif key == "min_retries_per_sec":
                b["min_retries_per_sec"] = _int(value, "budget['min_retries_per_sec']")
            else:
                raise ValueError(
                    f"unknown budget key {key!r} (expected percent, ttl, min_retries_per_sec)"
                )
        c["budget"] = b
    elif budget is not None and budget is not False:
        raise TypeError(f"budget must be None, True or a dict, not {type(budget).__name__}")
    return c


class RetryState:
    """One call under a retry, run by hand: run attempt :attr:`attempt`, report its
    outcome to :meth:`next`, wait the delay it gives (or stop when it gives ``None``).

    >>> from breakwater import ManualClock, RetryOutcome, Retry
    >>> r = Retry(max_attempts=2, backoff="fixed", initial=0.1, clock=ManualClock())
    >>> state = r.begin()
    >>> state.next(RetryOutcome.RETRYABLE)
    100000000
    >>> state.next(RetryOutcome.RETRYABLE) is None, state.stop_reason
    (True, <StopReason.ATTEMPTS_EXHAUSTED: 2>)
    """

    def __init__(self, retry: "Retry", deadline_ns: int = 0) -> None:
        ptr = STATE_P()
        call(lib.bw_retry_begin, retry._h.get(), deadline_ns, ctypes.byref(ptr))
        self._h = Handle(self, ptr, lib.bw_retry_state_free, "retry state")
        self._retry = retry  # keeps the retry (and its clock) alive
        self.stop_reason: Optional[StopReason] = None

    @property
    def attempt(self) -> int:
        """The number of the attempt to run now (from 1)."""
        out = c_uint32()
        call(lib.bw_retry_state_attempt, self._h.get(), ctypes.byref(out))
        return out.value

    def next(self, outcome: RetryOutcome, retry_after: Optional[Seconds] = None) -> Optional[int]:
        """Reports the current attempt's outcome; returns the delay in nanoseconds before
        the next attempt, or ``None`` to stop (see :attr:`stop_reason`). ``retry_after``
        (seconds or a timedelta) is a hint that replaces a smaller computed delay."""
        if not isinstance(outcome, int) or isinstance(outcome, bool):
            raise TypeError(f"outcome must be an RetryOutcome, not {type(outcome).__name__}")
        hint = 0 if retry_after is None else to_nanos(retry_after, "retry_after")
        delay = c_uint64()
        stop = c_uint32()
        call(lib.bw_retry_next, self._h.get(), int(outcome), hint, ctypes.byref(delay), ctypes.byref(stop))
        if stop.value == _abi.RETRY_CONTINUE:
            return delay.value
        self.stop_reason = StopReason(stop.value)
        return None

    def close(self) -> None:
        """Makes later calls raise ``ValueError``. Idempotent."""
        self._h.close()


class Retry:
    """A retry policy. Use it as ``retry.call(fn, *args, **kwargs)``, as a decorator
    (``@retry_policy``), or by hand with :meth:`begin`.

    Durations are seconds (``int``/``float``) or ``timedelta``. ``jitter`` is ``None``,
    ``"full"``, ``"equal"``, ``"decorrelated"``, or a float factor (proportional jitter
    ``d * (1 ± f)``). ``budget`` is ``None``, ``True`` (the defaults: 20% of calls over
    10 s plus 10 retries per second) or a dict with ``percent``, ``ttl``,
    ``min_retries_per_sec``.

    ``retry_on`` (exception types, or a predicate on the exception) says which
    exceptions are retried (default: every ``Exception``; breakwater rejections raised
    by inner policies are never retried); ``retry_if_result`` (a predicate on the value)
    retries values too, returning the last one when attempts run out; ``on_retry(attempt,
    delay_seconds, outcome)`` is called before each wait. A final exception is re-raised
    unchanged. An exception with a ``retry_after`` attribute (seconds) gives a hint.

    >>> from breakwater import ManualClock, Retry
    >>> clock = ManualClock()
    >>> answers = iter([503, 503, 200])
    >>> r = Retry(max_attempts=4, initial=0.5, clock=clock, retry_if_result=lambda s: s == 503)
    >>> r.call(lambda: next(answers))
    200
    >>> clock.now()
    1.5
    """

    def __init__(
        self,
        *,
        max_attempts: Optional[int] = None,
        backoff: Optional[str] = None,
        initial: Optional[Seconds] = None,
        multiplier: Optional[float] = None,
        step: Optional[Seconds] = None,
        max_delay: Optional[Seconds] = None,
        jitter: Union[None, str, float] = None,
        min_delay: Optional[Seconds] = None,
        max_elapsed: Optional[Seconds] = None,
        seed: Optional[int] = None,
        budget: Union[None, bool, dict] = None,
        name: Optional[str] = None,
        clock: Optional[Clock] = None,
        retry_on: RetryOn = Exception,
        retry_if_result: Optional[Callable[[Any], bool]] = None,
        on_retry: Optional[Callable[[int, float, Any], None]] = None,
    ) -> None:
        config = _config(
            max_attempts, backoff, initial, multiplier, step, max_delay, jitter,
            min_delay, max_elapsed, seed, budget, name,
        )
        self._retry_on = self._predicate(retry_on)
        if retry_if_result is not None and not callable(retry_if_result):
            raise TypeError("retry_if_result must be callable")
        if on_retry is not None and not callable(on_retry):
            raise TypeError("on_retry must be callable")
        self._retry_if_result = retry_if_result
        self._on_retry = on_retry
        text = json.dumps(config).encode()
        ptr = RETRY_P()
        call(lib.bw_retry_new_json, text, len(text), clock_pointer(clock), ctypes.byref(ptr))
        self._h = Handle(self, ptr, lib.bw_retry_free, "retry")
        self.clock = clock
        self.config = config

    @staticmethod
    def _predicate(retry_on: RetryOn) -> Callable[[BaseException], bool]:
        if isinstance(retry_on, type) and issubclass(retry_on, BaseException):
            return lambda e: isinstance(e, retry_on)
        if isinstance(retry_on, tuple):
            for t in retry_on:
                if not (isinstance(t, type) and issubclass(t, BaseException)):
                    raise TypeError(f"retry_on must hold exception types, not {t!r}")
            return lambda e: isinstance(e, retry_on)
        if callable(retry_on):
            return retry_on
        raise TypeError(
            f"retry_on must be an exception type, a tuple of them or a predicate, not {retry_on!r}"
        )

    def delays(self) -> list[float]:
        """The delays (seconds) a fresh call failing every attempt would wait (the first
        call's schedule, as Rust's ``Retry::delays``)."""
        # Ask the library for the number first (a NULL buffer of length 0 answers
        # BW_BUFFER_TOO_SMALL with it, or BW_OK when there are none), then fill.
        n = c_size_t(0)
        err = _abi.bw_error()
        status = lib.bw_retry_delays_ns(self._h.get(), None, 0, ctypes.byref(n), ctypes.byref(err))
        if status == _abi.OK:
            return []
        if status != _abi.BUFFER_TOO_SMALL:
            raise errors.from_error(err)
        buf = (c_uint64 * n.value)()
        call(lib.bw_retry_delays_ns, self._h.get(), buf, n.value, ctypes.byref(n))
        return [buf[i] / 1e9 for i in range(n.value)]

    def begin(self, deadline: Optional[Deadline] = None) -> RetryState:
        """Starts a call by hand (recorded in the retry budget). ``deadline`` (on the
        retry's clock) stops retries that would end past it."""
        if deadline is not None and not isinstance(deadline, Deadline):
            raise TypeError(f"deadline must be a Deadline or None, not {type(deadline).__name__}")
        return RetryState(self, 0 if deadline is None else deadline.at_ns)

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Runs ``fn(*args, **kwargs)`` under the retry and returns its last result, or
        re-raises its last exception unchanged."""
        if not callable(fn):
            raise TypeError(f"fn must be callable, not {type(fn).__name__}")
        state = self.begin()
        try:
            while True:
                attempt = state.attempt
                try:
                    result = fn(*args, **kwargs)
                except Exception as exc:
                    if isinstance(exc, RejectedError):
                        state.next(RetryOutcome.REJECTED)
                        raise
                    if not self._retry_on(exc):
                        state.next(RetryOutcome.PERMANENT)
                        raise
                    hint = getattr(exc, "retry_after", None)
                    if not isinstance(hint, (int, float)) or isinstance(hint, bool) or hint < 0:
                        hint = None
                    delay = state.next(RetryOutcome.RETRYABLE, hint)
                    if delay is None:
                        raise
                    self._wait(attempt, delay, exc)
                    continue
                if self._retry_if_result is not None and self._retry_if_result(result):
                    delay = state.next(RetryOutcome.RETRYABLE)
                    if delay is None:
                        return result
                    self._wait(attempt, delay, result)
                    continue
                state.next(RetryOutcome.SUCCESS)
                return result
        finally:
            state.close()

    def _wait(self, attempt: int, delay_ns: int, outcome: Any) -> None:
        if self._on_retry is not None:
            self._on_retry(attempt, delay_ns / 1e9, outcome)
        sleep_ns(self.clock, delay_ns)

    def __call__(self, fn: F) -> F:
        """Decorates ``fn``: every call runs under the retry."""
        if not callable(fn):
            raise TypeError(f"a Retry decorates a callable, not {type(fn).__name__}")

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return self.call(fn, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def close(self) -> None:
        """Makes later calls raise ``ValueError``. Idempotent."""
        self._h.close()

    def __repr__(self) -> str:
        return f"Retry({self.config!r})"


def retry(
    fn: Optional[F] = None,
    *,
    max_attempts: Optional[int] = None,
    backoff: Optional[str] = None,
    initial: Optional[Seconds] = None,
    multiplier: Optional[float] = None,
    step: Optional[Seconds] = None,
    max_delay: Optional[Seconds] = None,
    jitter: Union[None, str, float] = None,
    min_delay: Optional[Seconds] = None,
    max_elapsed: Optional[Seconds] = None,
    seed: Optional[int] = None,
    budget: Union[None, bool, dict] = None,
    name: Optional[str] = None,
    clock: Optional[Clock] = None,
    retry_on: RetryOn = Exception,
    retry_if_result: Optional[Callable[[Any], bool]] = None,
    on_retry: Optional[Callable[[int, float, Any], None]] = None,
) -> Any:
    """A decorator: ``@retry`` (the defaults) or ``@retry(max_attempts=5, ...)`` (the
    arguments of :class:`Retry`).

    >>> from breakwater import ManualClock, retry
    >>> calls = []
    >>> @retry(max_attempts=3, clock=ManualClock())
    ... def flaky():
    ...     calls.append(1)
    ...     if len(calls) < 3:
    ...         raise ConnectionError("reset")
    ...     return "ok"
    >>> flaky(), len(calls)
    ('ok', 3)
    """
    options: dict[str, Any] = {
        "max_attempts": max_attempts,
        "backoff": backoff,
        "initial": initial,
        "multiplier": multiplier,
        "step": step,
        "max_delay": max_delay,
        "jitter": jitter,
        "min_delay": min_delay,
        "max_elapsed": max_elapsed,
        "seed": seed,
        "budget": budget,
        "name": name,
        "clock": clock,
        "retry_on": retry_on,
        "retry_if_result": retry_if_result,
        "on_retry": on_retry,
    }
    given = [
        k for k, v in options.items() if v is not None and not (k == "retry_on" and v is Exception)
    ]
    if fn is not None:
        if given:
            raise TypeError("use @retry or @retry(**options), not both")
        return Retry()(fn)
    return Retry(**options)
