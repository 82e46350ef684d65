"""The circuit breaker: :class:`CircuitBreaker` and :class:`Registry`.

A breaker stops calling a dependency that keeps failing, waits ``open_duration``, then
lets a small trial through (half-open) to decide whether to close again. Use it as a
decorator, a context manager, through :meth:`CircuitBreaker.call`, or with the permit
protocol (:meth:`CircuitBreaker.acquire`):

>>> from breakwater import CircuitBreaker, CircuitOpenError, ManualClock
>>> clock = ManualClock()
>>> breaker = CircuitBreaker(consecutive_failures=2, open_duration=30, clock=clock)
>>> @breaker
... def fetch(ok):
...     if not ok:
...         raise ConnectionError("down")
...     return "data"
>>> fetch(True)
'data'
>>> for _ in range(2):
...     try:
...         fetch(False)
...     except ConnectionError:
...         pass
>>> breaker.state
<State.OPEN: 'open'>
>>> try:
...     fetch(True)
... except CircuitOpenError as e:
...     print(e.retry_after)
30.0
>>> clock.advance(30)
>>> fetch(True), breaker.state
('data', <State.CLOSED: 'closed'>)

Every call into the library is short and does not block: they all keep the GIL.
"""

from __future__ import annotations

import collections
import ctypes
import enum
import functools
import inspect
import json as _json
import math
import sys
import threading
from ctypes import POINTER, c_char_p, c_int, c_int32, c_size_t, c_uint32, c_uint64, c_void_p
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar, Union

from . import _abi, _lib, errors
from ._handle import Handle
from ._lib import KEEP_GIL, call, lib
from .clock import Clock, to_nanos

__all__ = [
    "BreakerConfig",
    "CallEvent",
    "CallKind",
    "BreakerMetrics",
    "CircuitBreaker",
    "Outcome",
    "Permit",
    "Registry",
    "State",
    "Transition",
]

F = TypeVar("F", bound=Callable[..., Any])
Seconds = Union[int, float, timedelta]

if TYPE_CHECKING:
    from .shared import SharedCircuitBreaker, SharedRateLimiter


class bw_breaker(ctypes.Structure):
    """Opaque ``bw_breaker``."""


class bw_registry(ctypes.Structure):
    """Opaque ``bw_registry``."""


class bw_permit(ctypes.Structure):
    """``bw_permit``: a permit, by value."""

    _fields_ = [("generation", c_uint64), ("acquired_ns", c_uint64)]


class bw_breaker_admission(bw_permit):
    """``bw_breaker_admission``: its first member is a ``bw_permit`` (hence the base
    class: an admission is passed where a permit pointer is expected)."""

    _fields_ = [("reason", c_uint32), ("has_retry_after", ctypes.c_bool), ("retry_after_ns", c_uint64)]


class bw_breaker_frame(ctypes.Structure):
    """``bw_breaker_frame``: one call of ``bw_breaker_enter`` / ``bw_breaker_exit``."""

    _fields_ = [
        ("breaker", c_void_p),
        ("permit", bw_permit),
        ("retry_after_ns", c_uint64),
        ("retry_after_s", ctypes.c_double),
    ]


class bw_breaker_event(ctypes.Structure):
    """``bw_breaker_event``: one transition."""

    _fields_ = [
        ("from_", c_uint32),
        ("to", c_uint32),
        ("reason", c_uint32),
        ("generation", c_uint64),
        ("at_ns", c_uint64),
    ]


_U64_FIELDS = [
    "generation",
    "requests",
    "successes",
    "failures",
    "ignored",
    "slow",
    "consecutive_successes",
    "consecutive_failures",
    "window_calls",
    "window_failures",
]
_TOTAL_FIELDS = [
    "total_requests",
    "total_successes",
    "total_failures",
    "total_ignored",
    "total_slow",
    "rejected_open",
    "rejected_trial_full",
    "rejected_forced_open",
    "stale_dropped",
    "transitions",
    "opened",
    "events_dropped",
]


class bw_breaker_stats(ctypes.Structure):
    """``bw_breaker_stats``: the snapshot written by ``bw_breaker_metrics``."""

    _fields_ = (
        [("size", c_size_t), ("state", c_uint32)]
        + [(n, c_uint64) for n in _U64_FIELDS]
        + [("failure_rate", ctypes.c_double), ("slow_call_rate", ctypes.c_double)]
        + [(n, c_uint64) for n in _TOTAL_FIELDS]
    )


class bw_breaker_call_event(ctypes.Structure):
    """``bw_breaker_call_event``: one call seen by the breaker."""

    _fields_ = [
        ("kind", c_uint32),
        ("reason", c_uint32),
        ("generation", c_uint64),
        ("duration_ns", c_uint64),
        ("has_duration", ctypes.c_bool),
        ("slow", ctypes.c_bool),
    ]


BREAKER_P = POINTER(bw_breaker)
REGISTRY_P = POINTER(bw_registry)
EVENT_FN = ctypes.CFUNCTYPE(None, POINTER(bw_breaker_event), c_void_p)
CALL_FN = ctypes.CFUNCTYPE(c_int, c_void_p)
CALL_EVENT_FN = ctypes.CFUNCTYPE(None, POINTER(bw_breaker_call_event), c_void_p)
ERROR_P = _abi.ERROR_P
CLOCK_P = _abi.CLOCK_P

_lib.declare(
    {
        "bw_breaker_new_json_with_callback": (
            c_int32,
            [c_char_p, c_size_t, CLOCK_P, EVENT_FN, c_void_p, POINTER(BREAKER_P), ERROR_P],
            KEEP_GIL,
        ),
        "bw_breaker_new_json_with_listeners": (
            c_int32,
            [
                c_char_p,
                c_size_t,
                CLOCK_P,
                EVENT_FN,
                CALL_EVENT_FN,
                c_void_p,
                POINTER(BREAKER_P),
                ERROR_P,
            ],
            KEEP_GIL,
        ),
        "bw_breaker_poll_call_events": (
            c_int32,
            [BREAKER_P, POINTER(bw_breaker_call_event), c_size_t, POINTER(c_size_t), ERROR_P],
            KEEP_GIL,
        ),
        "bw_breaker_new_json": (
            c_int32,
            [c_char_p, c_size_t, CLOCK_P, POINTER(BREAKER_P), ERROR_P],
            KEEP_GIL,
        ),
        "bw_breaker_free": (None, [BREAKER_P], KEEP_GIL),
        "bw_breaker_try_acquire": (c_int32, [BREAKER_P, POINTER(bw_permit), ERROR_P], KEEP_GIL),
        "bw_breaker_record": (c_int32, [BREAKER_P, bw_permit, c_uint32, ERROR_P], KEEP_GIL),
        "bw_breaker_admit": (
            c_int32,
            [BREAKER_P, POINTER(bw_breaker_admission), ERROR_P],
            KEEP_GIL,
        ),
        "bw_breaker_record_ptr": (
            c_int32,
            [BREAKER_P, POINTER(bw_permit), c_uint32, ERROR_P],
            KEEP_GIL,
        ),
        "bw_breaker_enter": (c_int32, [POINTER(bw_breaker_frame)], KEEP_GIL),
        "bw_breaker_exit": (c_int32, [POINTER(bw_breaker_frame)], KEEP_GIL),
        "bw_breaker_exit_outcome": (c_int32, [POINTER(bw_breaker_frame), c_uint32], KEEP_GIL),
        "bw_breaker_record_duration": (
            c_int32,
            [BREAKER_P, bw_permit, c_uint32, c_uint64, ERROR_P],
            KEEP_GIL,
        ),
        "bw_breaker_call": (
            c_int32,
            [BREAKER_P, CALL_FN, c_void_p, POINTER(c_int), ERROR_P],
            KEEP_GIL,
        ),
        "bw_breaker_state": (c_int32, [BREAKER_P, POINTER(c_uint32), ERROR_P], KEEP_GIL),
        "bw_breaker_metrics": (
            c_int32,
            [BREAKER_P, POINTER(bw_breaker_stats), ERROR_P],
            KEEP_GIL,
        ),
        "bw_breaker_reset": (c_int32, [BREAKER_P, ERROR_P], KEEP_GIL),
        "bw_breaker_force_open": (c_int32, [BREAKER_P, ERROR_P], KEEP_GIL),
        "bw_breaker_disable": (c_int32, [BREAKER_P, ERROR_P], KEEP_GIL),
        "bw_breaker_transition_to_open": (c_int32, [BREAKER_P, ERROR_P], KEEP_GIL),
        "bw_breaker_transition_to_half_open": (c_int32, [BREAKER_P, ERROR_P], KEEP_GIL),
        "bw_breaker_config_json": (
            c_int32,
            [BREAKER_P, POINTER(ctypes.c_char), c_size_t, POINTER(c_size_t), ERROR_P],
            KEEP_GIL,
        ),
        "bw_breaker_remaining_open_ns": (
            c_int32,
            [BREAKER_P, POINTER(ctypes.c_bool), POINTER(c_uint64), ERROR_P],
            KEEP_GIL,
        ),
        "bw_breaker_name": (
            c_int32,
            [BREAKER_P, POINTER(ctypes.c_char), c_size_t, POINTER(c_size_t), ERROR_P],
            KEEP_GIL,
        ),
        "bw_breaker_poll_events": (
            c_int32,
            [BREAKER_P, POINTER(bw_breaker_event), c_size_t, POINTER(c_size_t), ERROR_P],
            KEEP_GIL,
        ),
        "bw_registry_new": (c_int32, [POINTER(REGISTRY_P), ERROR_P], KEEP_GIL),
        "bw_registry_free": (None, [REGISTRY_P], KEEP_GIL),
        "bw_registry_breaker": (
            c_int32,
            [
                REGISTRY_P,
                c_char_p,
                c_size_t,
                c_char_p,
                c_size_t,
                CLOCK_P,
                POINTER(BREAKER_P),
                ERROR_P,
            ],
            KEEP_GIL,
        ),
    }
)


# The hot path of call(): one argument per foreign call, converted by nothing (see
# _lib.fast_function): a bw_breaker_frame passed through a byref() made once (ctypes
# takes it as it is; an array or a new byref() would be wrapped anew on every call).
# bw_breaker_enter answers 0 (admitted), a refusal (its BW_REASON_* code, plus
# BW_BREAKER_ENTER_RETRY_AFTER when the frame holds the time left) or a negated status;
# a refusal is an answer, not an error (no error object).
_enter = _lib.fast_function("bw_breaker_enter")
_exit = _lib.fast_function("bw_breaker_exit")
_exit_outcome = _lib.fast_function("bw_breaker_exit_outcome")


#: A breaker's state: ``State.CLOSED``, ``State.OPEN``, ``State.HALF_OPEN``,
#: ``State.FORCED_OPEN``, ``State.DISABLED``, whose values are the library's names
#: (``bw_state_name``: ``"half-open"``, ...), indexed by the state code.
State = enum.Enum(  # type: ignore[misc]
    "State",
    [(errors.identifier(n), n) for _, n in _lib.names(lib.bw_state_name)],
    module=__name__,
)
State.__doc__ = "A breaker's state (names from the library)."
_STATES = list(State)
# Transition reasons by code (bw_transition_reason_name: "threshold reached", ...).
_REASONS = [n for _, n in _lib.names(lib.bw_transition_reason_name)]


class Outcome(enum.IntEnum):
    """The verdict on a call (what a ``classify`` function returns)."""

    SUCCESS = _abi.OUTCOME_SUCCESS
    FAILURE = _abi.OUTCOME_FAILURE
    IGNORED = _abi.OUTCOME_IGNORED


#: What a :class:`CallEvent` reports: ``CallKind.SUCCESS``, ``FAILURE``, ``IGNORED``,
#: ``REJECTED``, ``STALE``, whose values are the library's codes (``BW_CALL_*``) and
#: whose ``label`` is the library's name (``bw_call_kind_name``).
CallKind = errors._vocabulary(
    "CallKind", lib.bw_call_kind_name, "What a CallEvent reports (names from the library)."
)


@dataclass(frozen=True)
class CallEvent:
    """One call seen by a breaker built with ``on_call=`` or ``call_events=True``:
    ``kind``, the rejection ``reason`` (``None`` unless rejected), the ``generation``,
    the ``duration`` in seconds (``None`` for rejections) and whether the trip policy
    counts it as ``slow``."""

    kind: CallKind
    reason: Optional[enum.Enum]  # an errors.Reason member
    generation: int
    duration: Optional[float]
    slow: bool


def _call_event(ev: bw_breaker_call_event) -> CallEvent:
    return CallEvent(
        CallKind(ev.kind),
        errors.Reason(ev.reason) if ev.kind == _abi.CALL_REJECTED else None,
        ev.generation,
        ev.duration_ns / 1e9 if ev.has_duration else None,
        bool(ev.slow),
    )


@dataclass(frozen=True)
class Transition:
    """A state transition: ``from_state`` -> ``to_state`` because of ``reason`` (for
    example ``"threshold reached"``), starting generation ``generation``, at ``at_ns`` on
    the breaker's clock."""

    from_state: State
    to_state: State
    reason: str
    generation: int
    at_ns: int


@dataclass(frozen=True)
class BreakerMetrics:
    """A snapshot of a breaker's counts: the current state's (``requests`` ...
    ``window_failures``, rates ``None`` when not computed) and since the breaker was
    built (``total_*``, rejections by reason, ``stale_dropped``, ``transitions``,
    ``opened``, ``events_dropped``)."""

    state: State
    generation: int
    requests: int
    successes: int
    failures: int
    ignored: int
    slow: int
    consecutive_successes: int
    consecutive_failures: int
    window_calls: int
    window_failures: int
    failure_rate: Optional[float]
    slow_call_rate: Optional[float]
    total_requests: int
    total_successes: int
    total_failures: int
    total_ignored: int
    total_slow: int
    rejected_open: int
    rejected_trial_full: int
    rejected_forced_open: int
    stale_dropped: int
    transitions: int
    opened: int
    events_dropped: int

    @property
    def rejected(self) -> int:
        """Every rejection since the breaker was built."""
        return self.rejected_open + self.rejected_trial_full + self.rejected_forced_open


def _seconds(ms: Optional[float]) -> Optional[float]:
    return None if ms is None else ms / 1000


@dataclass(frozen=True)
class BreakerConfig:
    """A breaker's effective configuration, read back from the library
    (``bw_breaker_config_json``: its defaults filled in). The fields have the names of
    :class:`CircuitBreaker`'s keywords (durations in seconds, ``None`` where unset or
    not part of the trip policy); ``policy`` is the trip policy's JSON key
    (``"consecutive_failures"``, ``"failures_in_window"``, ``"failure_rate"``,
    ``"slow_call_rate"``) and ``json`` the library's JSON form.

    >>> from breakwater import CircuitBreaker
    >>> c = CircuitBreaker(name="db", failure_rate=0.5, window_calls=200, interval=60).config
    >>> c.name, c.policy, c.failure_rate, c.window_calls, c.interval
    ('db', 'failure_rate', 0.5, 200, 60.0)
    >>> c.minimum_calls, CircuitBreaker().config.consecutive_failures  # the defaults
    (100, 5)
    """

    name: str
    policy: str
    consecutive_failures: Optional[int]
    failures_in_window: Optional[int]
    failure_window: Optional[float]
    failure_rate: Optional[float]
    slow_call_rate: Optional[float]
    slow_duration: Optional[float]
    window_calls: Optional[int]
    window_time: Optional[float]
    minimum_calls: Optional[int]
    open_duration: float
    open_duration_multiplier: float
    open_duration_cap: Optional[float]
    half_open_max_calls: int
    success_threshold: Optional[int]
    half_open_max_wait: Optional[float]
    interval: Optional[float]
    json: dict[str, Any]

    @classmethod
    def from_json(cls, j: dict[str, Any]) -> "BreakerConfig":
        """Reads the library's JSON form (every key present, as
        ``bw_breaker_config_json`` writes it)."""
        policies = ("consecutive_failures", "failures_in_window", "failure_rate", "slow_call_rate")
        policy = next((p for p in policies if j.get(p) is not None), "")
        fiw = j.get("failures_in_window") or {}
        rate = j.get("failure_rate") or j.get("slow_call_rate") or {}
        slow = (j.get("failure_rate") or {}).get("slow") or j.get("slow_call_rate") or {}
        window = rate.get("window") or {}
        return cls(
            name=j["name"],
            policy=policy,
            consecutive_failures=j.get("consecutive_failures"),
            failures_in_window=fiw.get("threshold"),
            failure_window=_seconds(fiw.get("window_ms")),
            failure_rate=(j.get("failure_rate") or {}).get("threshold"),
            slow_call_rate=slow.get("threshold"),
            slow_duration=_seconds(slow.get("slow_duration_ms")),
            window_calls=window.get("count"),
            window_time=_seconds(window.get("time_ms")),
            minimum_calls=rate.get("minimum_calls"),
            open_duration=j["open_duration_ms"] / 1000,
            open_duration_multiplier=j["open_duration_multiplier"],
            open_duration_cap=_seconds(j.get("open_duration_cap_ms")),
            half_open_max_calls=j["half_open_max_calls"],
            success_threshold=j.get("success_threshold"),
            half_open_max_wait=_seconds(j.get("half_open_max_wait_ms")),
            interval=_seconds(j.get("interval_ms")),
            json=j,
        )


def _transition(ev: bw_breaker_event) -> Transition:
    return Transition(
        _STATES[ev.from_], _STATES[ev.to], _REASONS[ev.reason], ev.generation, ev.at_ns
    )


def _nonfinite(value: float) -> str:
    """A NaN or infinite number in a form JSON accepts (its text): the library then
    refuses it with its own message, naming the field as written."""
    return repr(value)


def _ms(value: Seconds, name: str) -> Union[int, float, str]:
    """Seconds (or a ``timedelta``) as the JSON's milliseconds. Values the library
    refuses (negative, NaN, infinite) are passed on for it to refuse with its message."""
    if isinstance(value, float) and not math.isfinite(value):
        return _nonfinite(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        return value * 1000
    ns = to_nanos(value, name)
    return ns // 1_000_000 if ns % 1_000_000 == 0 else ns / 1e6


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return value


def _rate(value: Any, name: str) -> Union[float, str]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    value = float(value)
    return value if math.isfinite(value) else _nonfinite(value)


def config_json(
    config: Optional[dict[str, Any]] = None,
    *,
    name: Optional[str] = None,
    consecutive_failures: Optional[int] = None,
    failures_in_window: Optional[int] = None,
    failure_window: Optional[Seconds] = None,
    failure_rate: Optional[float] = None,
    slow_call_rate: Optional[float] = None,
    slow_duration: Optional[Seconds] = None,
    window_calls: Optional[int] = None,
    window_time: Optional[Seconds] = None,
    minimum_calls: Optional[int] = None,
    open_duration: Optional[Seconds] = None,
    open_duration_multiplier: Optional[float] = None,
    open_duration_cap: Optional[Seconds] = None,
    half_open_max_calls: Optional[int] = None,
    success_threshold: Optional[int] = None,
    half_open_max_wait: Optional[Seconds] = None,
    interval: Optional[Seconds] = None,
) -> str:
    """The JSON configuration for ``config`` (a dict in the C ABI's JSON form, durations
    in ``*_ms`` keys) updated with the keyword arguments (durations in seconds or
    ``timedelta``; ``None``: the library's default). The binding only maps each keyword
    to its JSON key:

    - ``failures_in_window``, ``failure_window``: ``failures_in_window.threshold``,
      ``.window_ms``;
    - ``failure_rate``: ``failure_rate.threshold``;
    - ``slow_call_rate``, ``slow_duration``: ``failure_rate.slow`` (with
      ``failure_rate``) or ``slow_call_rate`` (alone);
    - ``window_calls`` / ``window_time``, ``minimum_calls``: the rate policy's
      ``window.count`` / ``window.time_ms``, ``minimum_calls``;
    - ``open_duration``, ``open_duration_cap``, ``half_open_max_wait``, ``interval``:
      the ``*_ms`` keys; the others: the key of the same name.

    The library fills in its defaults (``bw_breaker_config_defaults_json``) and
    validates every value (two trip policies, ranges, NaN), with messages that name the
    JSON key.

    >>> config_json(name="db", consecutive_failures=3, open_duration=1.5)
    '{"name": "db", "consecutive_failures": 3, "open_duration_ms": 1500}'
    >>> config_json(failure_rate=0.5, window_calls=20, minimum_calls=10, interval=60)
    '{"failure_rate": {"threshold": 0.5, "window": {"count": 20}, "minimum_calls": 10}, "interval_ms": 60000}'
    """
    if config is not None and not isinstance(config, dict):
        raise TypeError(f"config must be a dict, not {type(config).__name__}")
    out: dict[str, Any] = dict(config or {})
    if name is not None:
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        out["name"] = name
    rate_window: dict[str, Any] = {}
    if window_calls is not None or window_time is not None:
        window: dict[str, Any] = {}
        if window_calls is not None:
            window["count"] = _int(window_calls, "window_calls")
        if window_time is not None:
            window["time_ms"] = _ms(window_time, "window_time")
        rate_window["window"] = window
    if minimum_calls is not None:
        rate_window["minimum_calls"] = _int(minimum_calls, "minimum_calls")
    slow: Optional[dict[str, Any]] = None
    if slow_call_rate is not None:
        slow = {"threshold": _rate(slow_call_rate, "slow_call_rate")}
        if slow_duration is not None:
            slow["slow_duration_ms"] = _ms(slow_duration, "slow_duration")
    elif slow_duration is not None:
        raise TypeError("slow_duration goes with slow_call_rate")
    if consecutive_failures is not None:
        out["consecutive_failures"] = _int(consecutive_failures, "consecutive_failures")
    if failures_in_window is not None:
        fiw: dict[str, Any] = {"threshold": _int(failures_in_window, "failures_in_window")}
        if failure_window is not None:
            fiw["window_ms"] = _ms(failure_window, "failure_window")
        out["failures_in_window"] = fiw
    elif failure_window is not None:
        raise TypeError("failure_window goes with failures_in_window")
    if failure_rate is not None:
        policy: dict[str, Any] = {"threshold": _rate(failure_rate, "failure_rate")}
        policy.update(rate_window)
        if slow is not None:
            policy["slow"] = slow
        out["failure_rate"] = policy
    elif slow is not None:
        out["slow_call_rate"] = {**slow, **rate_window}
    elif rate_window:
        raise TypeError(
            "window_calls, window_time and minimum_calls go with failure_rate or slow_call_rate"
        )
    durations = {
        "open_duration": open_duration,
        "open_duration_cap": open_duration_cap,
        "half_open_max_wait": half_open_max_wait,
        "interval": interval,
    }
    for key, value in durations.items():
        if value is not None:
            out[key + "_ms"] = _ms(value, key)
    if open_duration_multiplier is not None:
        out["open_duration_multiplier"] = _rate(
            open_duration_multiplier, "open_duration_multiplier"
        )
    if half_open_max_calls is not None:
        out["half_open_max_calls"] = _int(half_open_max_calls, "half_open_max_calls")
    if success_threshold is not None:
        out["success_threshold"] = _int(success_threshold, "success_threshold")
    try:
        return _json.dumps(out, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"the configuration cannot be written as JSON: {e}") from None


def config_defaults() -> dict[str, Any]:
    """The library's default breaker configuration (``bw_breaker_config_defaults_json``):
    every key the JSON form accepts."""
    return _lib.static_json(lib.bw_breaker_config_defaults_json)  # type: ignore[no-any-return]


def config_schema() -> dict[str, Any]:
    """The JSON Schema of the breaker configuration (``bw_breaker_config_schema_json``)."""
    return _lib.static_json(lib.bw_breaker_config_schema_json)  # type: ignore[no-any-return]


def _exc_tuple(value: Any, name: str) -> tuple[type[BaseException], ...]:
    if value is None:
        return ()
    if isinstance(value, type) and issubclass(value, BaseException):
        return (value,)
    if isinstance(value, tuple) and all(
        isinstance(t, type) and issubclass(t, BaseException) for t in value
    ):
        return value
    raise TypeError(f"{name} must be an exception type or a tuple of them")


Classify = Callable[[Any], Union[Outcome, bool, None]]

_tls = threading.local()

def _named(message: str, name: str) -> str:
    """A breaker's rejection message with its name: the library's message, then the
    breaker (``circuit breaker rejected the call: open (breaker 'db')``)."""
    return f"{message} (breaker {name!r})"


def _rejection(err: _abi.bw_error, name: str) -> errors.BreakwaterError:
    """The exception for a failed ``bw_breaker_try_acquire`` of the breaker ``name``."""
    e = errors.from_error(err)
    if err.status == _abi.REJECTED:
        e = type(e)(
            _named(e.message, name),
            status=e.status,
            policy=e.policy,
            reason=e.reason,
            retry_after=e.retry_after,
        )
    return e


# The breaker's refusal reasons (what bw_breaker_enter answers).
_REFUSAL_REASONS = (errors.Reason.OPEN, errors.Reason.HALF_OPEN_TRIAL_FULL, errors.Reason.FORCED_OPEN)

# bw_breaker_enter's answer to a refusal: the reason, and the flag saying that the frame
# holds the retry-after.
_RETRY_AFTER = _abi.BREAKER_ENTER_RETRY_AFTER
_REASON_MASK = _RETRY_AFTER - 1
_new_exception = BaseException.__new__


def _refusals(name: str) -> list[Any]:
    """Indexed by refusal reason code, for the breaker ``name``: the exception class and
    its message (the library's, ``bw_rejection_message``, with the name), built once per
    breaker so that a refusal costs no formatting; ``None`` at the other codes. A
    refusal raises ``BaseException.__new__(cls, message)``, whose other attributes come
    from its class (checked here against the keyword ``__init__``)."""
    out: list[Optional[tuple[type[errors.BreakwaterError], str]]] = [None] * (
        max(int(r) for r in _REFUSAL_REASONS) + 1
    )
    for reason in _REFUSAL_REASONS:
        text = lib.bw_rejection_message(int(errors.Policy.CIRCUIT_BREAKER), int(reason)).decode()
        message = _named(text, name)
        cls = errors.error_class(_abi.REJECTED, int(reason))
        full = cls(message, status=_abi.REJECTED, policy=_abi.POLICY_CIRCUIT_BREAKER, reason=int(reason))
        bare = _new_exception(cls, message)
        for attribute in errors._ATTRIBUTES:
            if getattr(bare, attribute) != getattr(full, attribute):
                raise AssertionError(f"{cls.__name__}.{attribute} differs from its __init__'s")
        out[int(reason)] = (cls, message)
    return out


def _admit_failed(status: int) -> errors.BreakwaterError:
    """The exception for a failed ``bw_breaker_enter`` on a live handle (a panic in the
    library): its message is the thread's last error."""
    return errors.error_class(status)(_lib.last_error_message(), status=status)


def _err() -> _abi.bw_error:
    try:
        return _tls.err  # type: ignore[no-any-return]
    except AttributeError:
        err = _tls.err = _abi.bw_error()
        return err


class Permit:
    """Permission to run one call (from :meth:`CircuitBreaker.acquire`): report its
    outcome once with :meth:`success`, :meth:`failure` or :meth:`ignore` (each returns
    ``True`` when recorded, ``False`` when the permit was stale: the breaker changed
    state since, and the outcome was dropped). As a context manager it reports for you:
    an exception is a failure (re-raised unchanged), else a success, unless a verdict
    was given inside the block."""

    __slots__ = ("_breaker", "_raw", "_done")

    def __init__(self, breaker: "CircuitBreaker", raw: bw_permit) -> None:
        self._breaker = breaker
        self._raw = raw
        self._done = False

    @property
    def generation(self) -> int:
        """The generation the call was admitted in."""
        return int(self._raw.generation)

    @property
    def done(self) -> bool:
        """``True`` once an outcome was reported."""
        return self._done

    def record(self, outcome: Outcome, duration: Optional[Seconds] = None) -> bool:
        """Reports ``outcome``; ``duration`` (seconds or ``timedelta``) replaces the
        measured duration for slow-call policies."""
        if self._done:
            raise ValueError("this permit's outcome was already reported")
        if not isinstance(outcome, Outcome):
            raise TypeError(f"outcome must be an Outcome, not {type(outcome).__name__}")
        self._done = True
        return self._breaker._record(self._raw, int(outcome), duration)

    def success(self) -> bool:
        """Reports a success."""
        return self.record(Outcome.SUCCESS)

    def failure(self) -> bool:
        """Reports a failure."""
        return self.record(Outcome.FAILURE)

    def ignore(self) -> bool:
        """Reports neither (gives a half-open admission back)."""
        return self.record(Outcome.IGNORED)

    def __enter__(self) -> "Permit":
        return self

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> None:
        if not self._done:
            if exc is None:
                self.success()
            else:
                self.record(self._breaker._classify_exception(exc))

    def __del__(self) -> None:
        # A permit dropped without a verdict gives its admission back (SPEC 3): report
        # it ignored, so that a half-open trial slot is free again at once.
        if not getattr(self, "_done", True):
            self._done = True
            try:
                self._breaker._record(self._raw, int(Outcome.IGNORED), None)
            except Exception:  # noqa: BLE001 (a finalizer must not raise; freed breaker)
                pass

    def __repr__(self) -> str:
        return f"Permit(generation={self.generation}, done={self._done})"


class CircuitBreaker:
    """A circuit breaker over the breakwater library.

    ``config`` is a dict in the JSON form of the C ABI (see :func:`config_json`);
    keyword arguments add Pythonic settings (durations in seconds or ``timedelta``):
    ``CircuitBreaker(name="db", consecutive_failures=5, open_duration=30)``. Bad values
    raise :class:`~breakwater.InvalidConfigError` (a ``ValueError``) naming the field,
    wrong types ``TypeError``.

    ``clock``: a :class:`~breakwater.Clock` (default: monotonic). ``on_transition``: a
    callable taking a :class:`Transition`, called on the thread whose call caused the
    transition; an exception it raises is re-raised from that call (after the breaker
    has recorded what it had to). ``classify``: called with a guarded call's return
    value, or with its exception, returns an :class:`Outcome`, ``True`` (success),
    ``False`` (failure) or ``None`` (the default rules: ``ignore`` exceptions are ignored,
    exceptions that are not ``failure_on`` (when given) are successes, other exceptions
    failures, values successes). ``throw_new_error_on_trip`` (pybreaker's option, default
    off): the guarded call (:meth:`call`, the decorator) whose failure trips the breaker
    raises :class:`~breakwater.CircuitOpenError` chained (``from``) to its exception,
    instead of the exception itself.

    The circuit operations have pybreaker's names too: :meth:`open`, :meth:`half_open`,
    :meth:`close` (closes the circuit). The handle is released by :meth:`free` or when
    the object is garbage-collected (``with breaker:`` guards a call, it does not free).
    """

    def __init__(
        self,
        config: Optional[dict[str, Any]] = None,
        *,
        name: Optional[str] = None,
        consecutive_failures: Optional[int] = None,
        failures_in_window: Optional[int] = None,
        failure_window: Optional[Seconds] = None,
        failure_rate: Optional[float] = None,
        slow_call_rate: Optional[float] = None,
        slow_duration: Optional[Seconds] = None,
        window_calls: Optional[int] = None,
        window_time: Optional[Seconds] = None,
        minimum_calls: Optional[int] = None,
        open_duration: Optional[Seconds] = None,
        open_duration_multiplier: Optional[float] = None,
        open_duration_cap: Optional[Seconds] = None,
        half_open_max_calls: Optional[int] = None,
        success_threshold: Optional[int] = None,
        half_open_max_wait: Optional[Seconds] = None,
        interval: Optional[Seconds] = None,
        clock: Optional[Clock] = None,
        on_transition: Optional[Callable[[Transition], Any]] = None,
        classify: Optional[Classify] = None,
        ignore: Any = None,
        failure_on: Any = None,
        throw_new_error_on_trip: bool = False,
        on_call: Optional[Callable[[CallEvent], Any]] = None,
        call_events: bool = False,
    ) -> None:
        if clock is not None and not isinstance(clock, Clock):
            raise TypeError(f"clock must be a breakwater Clock, not {type(clock).__name__}")
        if on_transition is not None and not callable(on_transition):
            raise TypeError("on_transition must be callable")
        text = config_json(
            config,
            name=name,
            consecutive_failures=consecutive_failures,
            failures_in_window=failures_in_window,
            failure_window=failure_window,
            failure_rate=failure_rate,
            slow_call_rate=slow_call_rate,
            slow_duration=slow_duration,
            window_calls=window_calls,
            window_time=window_time,
            minimum_calls=minimum_calls,
            open_duration=open_duration,
            open_duration_multiplier=open_duration_multiplier,
            open_duration_cap=open_duration_cap,
            half_open_max_calls=half_open_max_calls,
            success_threshold=success_threshold,
            half_open_max_wait=half_open_max_wait,
            interval=interval,
        ).encode()
        self._setup(classify, ignore, failure_on, throw_new_error_on_trip)
        ptr = BREAKER_P()
        if on_call is not None and not callable(on_call):
            raise TypeError("on_call must be callable")
        if not isinstance(call_events, bool):
            raise TypeError(f"call_events must be a bool, not {type(call_events).__name__}")
        self._callback = EVENT_FN(self._on_event) if on_transition else EVENT_FN()
        self._on_transition = on_transition
        self._on_call = on_call
        clock_p = clock._pointer() if clock is not None else None
        if on_call is not None or call_events:
            self._call_callback = CALL_EVENT_FN(self._on_call_event) if on_call else CALL_EVENT_FN()
            call(
                lib.bw_breaker_new_json_with_listeners,
                text,
                len(text),
                clock_p,
                self._callback,
                self._call_callback,
                None,
                ctypes.byref(ptr),
            )
        else:
            call(
                lib.bw_breaker_new_json_with_callback,
                text,
                len(text),
                clock_p,
                self._callback,
                None,
                ctypes.byref(ptr),
            )
        self._adopt(ptr)

    def _adopt(self, ptr: Any) -> None:
        self._h = Handle(
            self, ptr, lib.bw_breaker_free, errors.Policy.CIRCUIT_BREAKER.label, "freed"
        )
        self._ptr = ptr
        self._vp = ctypes.cast(ptr, c_void_p)
        self._name = self.name
        self._refusals = _refusals(self._name)
        # Frames for call(), reused: a call takes one (or makes one when none is free)
        # and puts it back when done. A deque: its pop and append are atomic, and do
        # not reallocate as a list's do when it empties and fills again.
        self._frames: collections.deque[Any] = collections.deque()

    def _new_frame(self) -> tuple[Any, Any]:
        """A frame for call() on this breaker (a NULL breaker once freed, which
        bw_breaker_enter refuses), with the byref() that the foreign calls take."""
        frame = bw_breaker_frame(self._vp)
        return ctypes.byref(frame), frame

    def _setup(
        self,
        classify: Optional[Classify],
        ignore: Any,
        failure_on: Any,
        throw_new_error_on_trip: bool = False,
    ) -> None:
        if classify is not None and not callable(classify):
            raise TypeError("classify must be callable")
        if not isinstance(throw_new_error_on_trip, bool):
            raise TypeError(
                "throw_new_error_on_trip must be a bool, not "
                f"{type(throw_new_error_on_trip).__name__}"
            )
        self._throw_on_trip = throw_new_error_on_trip
        self._classify = classify
        self._ignore = _exc_tuple(ignore, "ignore")
        self._failure_on = _exc_tuple(failure_on, "failure_on") if failure_on is not None else None
        self._pending: list[BaseException] = []
        self._local = threading.local()

    @classmethod
    def _from_handle(
        cls,
        ptr: Any,
        classify: Optional[Classify],
        ignore: Any,
        failure_on: Any,
        throw_new_error_on_trip: bool = False,
    ) -> "CircuitBreaker":
        self = cls.__new__(cls)
        self._setup(classify, ignore, failure_on, throw_new_error_on_trip)
        self._callback = None
        self._on_transition = None
        self._on_call = None
        self._adopt(ptr)
        return self

    # -- callbacks ------------------------------------------------------------------

    def _on_event(self, event: Any, _user_data: Any) -> None:
        try:
            assert self._on_transition is not None
            self._on_transition(_transition(event.contents))
        except BaseException as e:  # noqa: BLE001 (stored, re-raised in the caller)
            self._pending.append(e)

    def _on_call_event(self, event: Any, _user_data: Any) -> None:
        try:
            assert self._on_call is not None
            self._on_call(_call_event(event.contents))
        except BaseException as e:  # noqa: BLE001 (stored, re-raised in the caller)
            self._pending.append(e)

    def _raise_pending(self) -> None:
        if self._pending:
            e = self._pending.pop(0)
            self._pending.clear()
            raise e

    # -- the protocol -----------------------------------------------------------------

    def _get(self) -> Any:
        return self._h.get()

    def acquire(self) -> Permit:
        """A :class:`Permit` to run one call, or raises :class:`~breakwater.CircuitOpenError`
        (:class:`~breakwater.TrialFullError`, :class:`~breakwater.ForcedOpenError`) with
        ``retry_after`` (seconds) when the breaker refuses."""
        raw = bw_permit()
        err = _err()
        status = lib.bw_breaker_try_acquire(self._h.get(), ctypes.byref(raw), ctypes.byref(err))
        if self._pending:
            self._raise_pending()
        if status:
            raise _rejection(err, self._name)
        return Permit(self, raw)

    def _record(self, raw: bw_permit, outcome: int, duration: Optional[Seconds]) -> bool:
        err = _err()
        if duration is None:
            status = lib.bw_breaker_record(self._h.get(), raw, outcome, ctypes.byref(err))
        else:
            ns = to_nanos(duration, "duration")
            status = lib.bw_breaker_record_duration(
                self._h.get(), raw, outcome, ns, ctypes.byref(err)
            )
        if self._pending:
            self._raise_pending()
        if status == _abi.STALE:
            return False
        if status:
            raise errors.from_error(err)
        return True

    def _classify_exception(self, exc: BaseException) -> Outcome:
        if self._classify is not None:
            verdict = self._classify(exc)
            if verdict is not None:
                return _outcome(verdict)
        if self._ignore and isinstance(exc, self._ignore):
            return Outcome.IGNORED
        if self._failure_on is not None and not isinstance(exc, self._failure_on):
            return Outcome.SUCCESS
        return Outcome.FAILURE

    def _classify_value(self, value: Any) -> int:
        if self._classify is None:
            return _abi.OUTCOME_SUCCESS
        verdict = self._classify(value)
        return _abi.OUTCOME_SUCCESS if verdict is None else int(_outcome(verdict))

    def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Runs ``fn(*args, **kwargs)`` through the breaker and returns its result; an
        exception it raises is recorded (see ``classify``) and re-raised unchanged."""
        # One foreign call each way, one argument each (see _enter); `self` keeps the
        # handle alive for the whole call. After free() new frames hold NULL, which
        # bw_breaker_enter refuses: the failure branch raises the ValueError.
        frames = self._frames
        try:
            entry = frames.pop()
        except IndexError:
            entry = self._new_frame()
        ref = entry[0]
        answer = _enter(ref)
        if answer:
            raise self._refused(frames, entry, answer)
        try:
            # Without keywords, no copy of the (empty) keyword dict for the call.
            result = fn(*args, **kwargs) if kwargs else fn(*args)
        except BaseException as exc:
            outcome = int(self._classify_exception(exc))
            if self._throw_on_trip and outcome == _abi.OUTCOME_FAILURE:
                opened = self.metrics().opened
                _exit_outcome(ref, outcome)
                frames.append(entry)
                self._raise_pending()
                if self.metrics().opened != opened:
                    raise self._trip_error() from exc
                raise
            _exit_outcome(ref, outcome)
            frames.append(entry)
            self._raise_pending()
            raise
        if self._classify is None:
            _exit(ref)
        else:
            _exit_outcome(ref, self._classify_value(result))
        frames.append(entry)
        if self._pending:
            self._raise_pending()
        return result

    def _refused(
        self, frames: collections.deque[Any], entry: tuple[Any, Any], answer: int
    ) -> errors.BreakwaterError:
        """The exception for what ``bw_breaker_enter`` answered when it did not admit:
        for a refusal, as ``_rejection`` builds it from ``bw_breaker_try_acquire``'s
        error object (tested), without a keyword ``__init__`` or any formatting. Built
        here rather than in :meth:`call`, so that no local variable of the frame the
        exception passes through refers to it (a reference cycle through its traceback,
        left to the garbage collector)."""
        if answer < 0:
            self._h.get()
            return _admit_failed(-answer)
        # (Comparisons and subtractions of small ints are the interpreter's fast ones.)
        if answer > _REASON_MASK:  # the reason, plus the flag: the frame holds the time left
            e = _new_exception(*self._refusals[answer - _RETRY_AFTER])
            e.retry_after = entry[1].retry_after_s
        else:
            e = _new_exception(*self._refusals[answer])
        frames.append(entry)
        if self._pending:
            self._raise_pending()
        return e

    def _trip_error(self) -> errors.BreakwaterError:
        """The :class:`~breakwater.CircuitOpenError` raised, with
        ``throw_new_error_on_trip``, by the call that tripped the breaker: the library's
        rejection message and the time left open as ``retry_after``."""
        e = _new_exception(*self._refusals[int(errors.Reason.OPEN)])
        remaining = self.remaining_open()
        if remaining is not None:
            e.retry_after = remaining
        return e

    def _guard_generator(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """A generator function whose generators run ``fn``'s under the breaker: admitted
        at the first ``next()``, recorded when iteration ends (the ``return`` value
        classified as a result) or raises (classified as an exception); closed early
        (``close()``, garbage-collected): ignored."""

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            permit = self.acquire()
            try:
                result = yield from fn(*args, **kwargs)
            except GeneratorExit:
                permit.ignore()
                raise
            except BaseException as exc:
                outcome = self._classify_exception(exc)
                if self._throw_on_trip and outcome is Outcome.FAILURE:
                    opened = self.metrics().opened
                    permit.record(outcome)
                    if self.metrics().opened != opened:
                        raise self._trip_error() from exc
                    raise
                permit.record(outcome)
                raise
            permit.record(Outcome(self._classify_value(result)))
            return result

        return guarded

    def __call__(self, fn: F) -> F:
        """Decorator: every call of ``fn`` goes through :meth:`call` (works on methods).
        A generator function is guarded per iteration instead: admitted at the first
        ``next()``, its outcome recorded when the iteration ends or raises, not when the
        generator object is created.

        >>> from breakwater import CircuitBreaker
        >>> b = CircuitBreaker(consecutive_failures=1)
        >>> @b
        ... def rows():
        ...     yield 1
        ...     raise IOError("lost")
        >>> it = rows()
        >>> b.metrics().total_requests
        0
        >>> next(it)
        1
        >>> next(it)
        Traceback (most recent call last):
        OSError: lost
        >>> b.state.value
        'open'
        """
        if not callable(fn):
            raise TypeError("CircuitBreaker decorates callables")
        if inspect.isgeneratorfunction(fn):
            return self._guard_generator(fn)  # type: ignore[return-value]

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            return self.call(fn, *args, **kwargs)

        return guarded  # type: ignore[return-value]

    def __enter__(self) -> "CircuitBreaker":
        permit = self.acquire()
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        stack.append(permit)
        return self

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> None:
        permit = self._local.stack.pop()
        permit.__exit__(exc_type, exc, tb)

    # -- state, metrics, manual modes ---------------------------------------------------

    @property
    def state(self) -> State:
        """The current state (a due transition is applied first)."""
        out = c_uint32()
        call(lib.bw_breaker_state, self._h.get(), ctypes.byref(out))
        self._raise_pending()
        return _STATES[out.value]

    @property
    def name(self) -> str:
        """The breaker's name."""
        n = c_size_t(0)
        buf = ctypes.create_string_buffer(64)
        err = _err()
        status = lib.bw_breaker_name(self._h.get(), buf, len(buf), ctypes.byref(n), ctypes.byref(err))
        if status == _abi.BUFFER_TOO_SMALL:
            buf = ctypes.create_string_buffer(n.value + 1)
            call(lib.bw_breaker_name, self._h.get(), buf, len(buf), ctypes.byref(n))
        elif status:
            raise errors.from_error(err)
        return buf.value.decode()

    @property
    def config(self) -> BreakerConfig:
        """The effective configuration (:class:`BreakerConfig`), from the library."""
        n = c_size_t(0)
        err = _err()
        status = lib.bw_breaker_config_json(self._h.get(), None, 0, ctypes.byref(n), ctypes.byref(err))
        if status != _abi.BUFFER_TOO_SMALL:
            raise errors.from_error(err)
        buf = ctypes.create_string_buffer(n.value + 1)
        call(lib.bw_breaker_config_json, self._h.get(), buf, len(buf), ctypes.byref(n))
        return BreakerConfig.from_json(_json.loads(buf.value.decode()))

    def metrics(self) -> BreakerMetrics:
        """A :class:`BreakerMetrics` snapshot."""
        m = bw_breaker_stats()
        m.size = ctypes.sizeof(m)
        call(lib.bw_breaker_metrics, self._h.get(), ctypes.byref(m))
        self._raise_pending()
        values = {n: getattr(m, n) for n in _U64_FIELDS + _TOTAL_FIELDS}
        return BreakerMetrics(
            state=_STATES[m.state],
            failure_rate=None if m.failure_rate < 0 else m.failure_rate,
            slow_call_rate=None if m.slow_call_rate < 0 else m.slow_call_rate,
            **values,
        )

    def reset(self) -> None:
        """Closes the breaker (from any state) with fresh counts."""
        call(lib.bw_breaker_reset, self._h.get())
        self._raise_pending()

    def force_open(self) -> None:
        """Rejects every call (:class:`~breakwater.ForcedOpenError`) until :meth:`reset`."""
        call(lib.bw_breaker_force_open, self._h.get())
        self._raise_pending()

    def disable(self) -> None:
        """Admits and counts every call, never trips, until :meth:`reset`."""
        call(lib.bw_breaker_disable, self._h.get())
        self._raise_pending()

    def poll_events(self, max_events: int = _abi.BREAKER_EVENT_QUEUE_LEN) -> list[Transition]:
        """The pending transitions, oldest first (at most ``max_events``). The queue keeps
        256; newer ones are dropped when it is full (``metrics().events_dropped``)."""
        max_events = _int(max_events, "max_events")
        if max_events < 0:
            raise ValueError(f"max_events must not be negative, got {max_events}")
        buf = (bw_breaker_event * max(max_events, 1))()
        n = c_size_t(0)
        call(lib.bw_breaker_poll_events, self._h.get(), buf, max_events, ctypes.byref(n))
        return [_transition(buf[i]) for i in range(n.value)]

    def transition_to_open(self) -> None:
        """Opens the breaker now, as a trip would: timed (a half-open trial follows the
        open duration); listeners see the reason ``"transitioned to open"``. A no-op when it is
        already open; leaves the manual modes.

        >>> from breakwater import CircuitBreaker, ManualClock
        >>> clock = ManualClock()
        >>> b = CircuitBreaker(open_duration=10, clock=clock)
        >>> b.transition_to_open()
        >>> b.state.value, b.remaining_open()
        ('open', 10.0)
        >>> clock.advance(10)
        >>> b.state.value
        'half-open'
        """
        call(lib.bw_breaker_transition_to_open, self._h.get())
        self._raise_pending()

    def transition_to_half_open(self) -> None:
        """Starts a half-open trial now (a no-op when already half-open)."""
        call(lib.bw_breaker_transition_to_half_open, self._h.get())
        self._raise_pending()

    def open(self) -> None:
        """pybreaker's name for :meth:`transition_to_open`."""
        self.transition_to_open()

    def half_open(self) -> None:
        """pybreaker's name for :meth:`transition_to_half_open`."""
        self.transition_to_half_open()

    def poll_call_events(self, max_events: int = _abi.BREAKER_CALL_QUEUE_LEN) -> list[CallEvent]:
        """The pending :class:`CallEvent` s, oldest first (at most ``max_events``), of a
        breaker built with ``on_call=`` or ``call_events=True`` (others raise
        :class:`~breakwater.InvalidArgumentError`). The queue keeps 1024; newer events
        are dropped when it is full.

        >>> from breakwater import CircuitBreaker
        >>> b = CircuitBreaker(call_events=True)
        >>> b.call(int)
        0
        >>> [e.kind.name for e in b.poll_call_events()]
        ['SUCCESS']
        """
        max_events = _int(max_events, "max_events")
        if max_events < 0:
            raise ValueError(f"max_events must not be negative, got {max_events}")
        buf = (bw_breaker_call_event * max(max_events, 1))()
        n = c_size_t(0)
        call(lib.bw_breaker_poll_call_events, self._h.get(), buf, max_events, ctypes.byref(n))
        return [_call_event(buf[i]) for i in range(n.value)]

    def close(self) -> None:
        """Closes the circuit (pybreaker's ``close()``): :meth:`reset`, from any state,
        with fresh counts. It does not free the handle (that is :meth:`free`)."""
        self.reset()

    def remaining_open(self) -> Optional[float]:
        """Seconds until the open breaker may admit a trial (``0.0`` once due), or
        ``None`` when it is not open (forced open included). Side-effect free: applies no
        transition and counts nothing."""
        is_open = ctypes.c_bool(False)
        ns = c_uint64(0)
        call(lib.bw_breaker_remaining_open_ns, self._h.get(), ctypes.byref(is_open), ctypes.byref(ns))
        return ns.value / 1e9 if is_open.value else None

    def free(self) -> None:
        """Releases the breaker: later calls raise ``ValueError`` (the C handle is freed
        with the object, so a call in progress on another thread stays safe).
        Idempotent. Earlier versions called this ``close()``, which now closes the circuit."""
        self._h.close()
        self._vp = None
        self._frames = collections.deque()

    @property
    def freed(self) -> bool:
        """``True`` once :meth:`free` was called."""
        return self._h.closed

    def __repr__(self) -> str:
        if self._h.closed:
            return "CircuitBreaker(freed)"
        return f"CircuitBreaker(name={self.name!r}, state={self.state.value!r})"


def _outcome(verdict: Any) -> Outcome:
    if isinstance(verdict, Outcome):
        return verdict
    if verdict is True:
        return Outcome.SUCCESS
    if verdict is False:
        return Outcome.FAILURE
    raise TypeError(
        f"classify must return an Outcome, True, False or None, not {type(verdict).__name__}"
    )


# -- the registry's other policies and its exports (Registry.bulkhead, .rate_limiter,
# .prometheus, .health) ----------------------------------------------------------------
from .bulkhead import BULKHEAD_P, Bulkhead  # noqa: E402
from .bulkhead import settings as _bulkhead_settings  # noqa: E402
from .ratelimit import LIMITER_P, RateLimiter  # noqa: E402
from .ratelimit import settings as _limiter_settings  # noqa: E402

_TEXT_FN = [REGISTRY_P, POINTER(ctypes.c_char), c_size_t, POINTER(c_size_t), ERROR_P]
_lib.declare(
    {
        "bw_registry_bulkhead": (
            c_int32,
            [REGISTRY_P, c_char_p, c_size_t, c_char_p, c_size_t, POINTER(BULKHEAD_P), ERROR_P],
            KEEP_GIL,
        ),
        "bw_registry_rate_limiter": (
            c_int32,
            [
                REGISTRY_P,
                c_char_p,
                c_size_t,
                c_char_p,
                c_size_t,
                CLOCK_P,
                POINTER(LIMITER_P),
                ERROR_P,
            ],
            KEEP_GIL,
        ),
        "bw_registry_prometheus": (c_int32, _TEXT_FN, KEEP_GIL),
        "bw_registry_prometheus_content_type": (c_char_p, [], KEEP_GIL),
        "bw_registry_health_json": (c_int32, _TEXT_FN, KEEP_GIL),
        "bw_breaker_describe_transition": (
            c_int32,
            [
                BREAKER_P,
                POINTER(bw_breaker_event),
                POINTER(ctypes.c_char),
                c_size_t,
                POINTER(c_size_t),
                ERROR_P,
            ],
            KEEP_GIL,
        ),
    }
)


def _registry_text(func: Callable[..., int], registry: Any) -> str:
    """The text a ``bw_registry_*`` copy function gives (asks its length first, and
    again if it grew in between)."""
    n = c_size_t(0)
    size = 0
    while True:
        buf = ctypes.create_string_buffer(size) if size else None
        err = _err()
        status = func(registry, buf, size, ctypes.byref(n), ctypes.byref(err))
        if status == _abi.OK:
            assert buf is not None
            return ctypes.string_at(buf, n.value).decode()
        if status != _abi.BUFFER_TOO_SMALL:
            raise errors.from_error(err)
        size = n.value + 1


def _registered_config(
    config: Optional[dict[str, Any]], sent: dict[str, Any], what: str
) -> dict[str, Any]:
    """``config`` (the JSON form) with the keyword settings ``sent`` over it."""
    if config is None:
        return dict(sent)
    if not isinstance(config, dict):
        raise TypeError(f"{what} config must be a dict, not {type(config).__name__}")
    return {**config, **sent}


class Registry:
    """Named breakers shared by every user of the registry: the same name gives the same
    breaker (state and counts).

    >>> from breakwater import Registry
    >>> reg = Registry()
    >>> a = reg.breaker("db", consecutive_failures=1)
    >>> b = reg.breaker("db")
    >>> a.force_open()
    >>> b.state.value
    'forced-open'
    """

    def __init__(self) -> None:
        ptr = REGISTRY_P()
        call(lib.bw_registry_new, ctypes.byref(ptr))
        self._h = Handle(self, ptr, lib.bw_registry_free, "registry")
        # (kind, name) -> the explicit configuration and the clock a bulkhead or limiter
        # was built with, for the objects over later handles on it.
        self._built: dict[tuple[str, str], tuple[dict[str, Any], Optional[Clock]]] = {}
        self._built_lock = threading.Lock()

    def breaker(
        self,
        name: str,
        config: Optional[dict[str, Any]] = None,
        *,
        clock: Optional[Clock] = None,
        classify: Optional[Classify] = None,
        ignore: Any = None,
        failure_on: Any = None,
        throw_new_error_on_trip: bool = False,
        consecutive_failures: Optional[int] = None,
        failures_in_window: Optional[int] = None,
        failure_window: Optional[Seconds] = None,
        failure_rate: Optional[float] = None,
        slow_call_rate: Optional[float] = None,
        slow_duration: Optional[Seconds] = None,
        window_calls: Optional[int] = None,
        window_time: Optional[Seconds] = None,
        minimum_calls: Optional[int] = None,
        open_duration: Optional[Seconds] = None,
        open_duration_multiplier: Optional[float] = None,
        open_duration_cap: Optional[Seconds] = None,
        half_open_max_calls: Optional[int] = None,
        success_threshold: Optional[int] = None,
        half_open_max_wait: Optional[Seconds] = None,
        interval: Optional[Seconds] = None,
    ) -> CircuitBreaker:
        """A breaker on the registry's instance named ``name``, built on first use with
        ``config``/``settings`` (and ``clock``). Without configuration: the existing
        breaker, or a new one with the defaults; with one that differs from the
        registered breaker's: :class:`~breakwater.InvalidConfigError`. ``classify``,
        ``ignore`` and ``failure_on`` belong to the returned object."""
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        if clock is not None and not isinstance(clock, Clock):
            raise TypeError(f"clock must be a breakwater Clock, not {type(clock).__name__}")
        raw_name = name.encode()
        text = config_json(
            config,
            consecutive_failures=consecutive_failures,
            failures_in_window=failures_in_window,
            failure_window=failure_window,
            failure_rate=failure_rate,
            slow_call_rate=slow_call_rate,
            slow_duration=slow_duration,
            window_calls=window_calls,
            window_time=window_time,
            minimum_calls=minimum_calls,
            open_duration=open_duration,
            open_duration_multiplier=open_duration_multiplier,
            open_duration_cap=open_duration_cap,
            half_open_max_calls=half_open_max_calls,
            success_threshold=success_threshold,
            half_open_max_wait=half_open_max_wait,
            interval=interval,
        ).encode()
        if config is None and text == b"{}":
            text = b""
        ptr = BREAKER_P()
        clock_p = clock._pointer() if clock is not None else None
        call(
            lib.bw_registry_breaker,
            self._h.get(),
            raw_name,
            len(raw_name),
            text or None,
            len(text),
            clock_p,
            ctypes.byref(ptr),
        )
        return CircuitBreaker._from_handle(
            ptr, classify, ignore, failure_on, throw_new_error_on_trip
        )

    def _remember(
        self, key: tuple[str, str], config: Optional[dict[str, Any]], clock: Optional[Clock]
    ) -> tuple[dict[str, Any], Optional[Clock]]:
        """What the policy ``key`` was built with: ``config`` and ``clock`` the first time
        it is asked for (the library has just built it then, or checked that ``config``
        equals the registered one), the first answer afterwards."""
        with self._built_lock:
            known = self._built.get(key)
            if known is None:
                known = self._built[key] = (config or {}, clock)
            elif config and not known[0]:
                known = self._built[key] = (config, known[1])
            return known

    def bulkhead(
        self,
        name: str,
        config: Optional[dict[str, Any]] = None,
        *,
        max_concurrent: Optional[int] = None,
        max_wait: Optional[Seconds] = None,
    ) -> Bulkhead:
        """A :class:`~breakwater.Bulkhead` on the registry's bulkhead named ``name``
        (handles of one name share their permits), built on first use, on the monotonic
        clock, with ``config`` (the JSON form of ``bw_bulkhead_new_json``) and the
        settings given over it. Without configuration: the existing bulkhead, or a new
        one with the defaults; with one that differs from the registered bulkhead's:
        :class:`~breakwater.InvalidConfigError`. It is exported by :meth:`prometheus`.

        >>> from breakwater import Registry
        >>> reg = Registry()
        >>> a = reg.bulkhead("db", max_concurrent=1)
        >>> b = reg.bulkhead("db")
        >>> a.try_acquire(), b.try_acquire()
        (True, False)
        >>> b.config["max_concurrent"]
        1
        """
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        sent = _bulkhead_settings(max_concurrent=max_concurrent, max_wait=max_wait)
        explicit = _registered_config(config, sent, "a bulkhead")
        explicit.pop("name", None)
        text = _json.dumps(explicit).encode() if config is not None or sent else b""
        raw_name = name.encode()
        ptr = BULKHEAD_P()
        call(
            lib.bw_registry_bulkhead,
            self._h.get(),
            raw_name,
            len(raw_name),
            text or None,
            len(text),
            ctypes.byref(ptr),
        )
        known = self._remember(("bulkhead", name), explicit if text else None, None)
        return Bulkhead._from_handle(ptr, {**known[0], "name": name})

    def rate_limiter(
        self,
        name: str,
        config: Optional[dict[str, Any]] = None,
        *,
        clock: Optional[Clock] = None,
        permits: Optional[int] = None,
        period: Optional[Seconds] = None,
        burst: Optional[int] = None,
        max_wait: Optional[Seconds] = None,
    ) -> RateLimiter:
        """A :class:`~breakwater.RateLimiter` on the registry's limiter named ``name``
        (handles of one name share their permits), built on first use with ``config``
        (the JSON form of ``bw_limiter_new_json``) and the settings given over it, on
        ``clock`` (default: monotonic; only used when the limiter is built, and by the
        returned object's waits). Without configuration: the existing limiter, or a new
        one with the defaults; with one that differs from the registered limiter's:
        :class:`~breakwater.InvalidConfigError`. It is exported by :meth:`prometheus`.

        >>> from breakwater import ManualClock, Registry
        >>> reg = Registry()
        >>> a = reg.rate_limiter("api", permits=2, period=1.0, clock=ManualClock())
        >>> b = reg.rate_limiter("api")
        >>> a.try_acquire(), b.try_acquire(), a.try_acquire()
        (True, True, False)
        """
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        if clock is not None and not isinstance(clock, Clock):
            raise TypeError(f"clock must be a breakwater Clock, not {type(clock).__name__}")
        sent = _limiter_settings(permits=permits, period=period, burst=burst, max_wait=max_wait)
        explicit = _registered_config(config, sent, "a rate limiter")
        explicit.pop("name", None)
        text = _json.dumps(explicit).encode() if config is not None or sent else b""
        raw_name = name.encode()
        ptr = LIMITER_P()
        clock_p = clock._pointer() if clock is not None else None
        call(
            lib.bw_registry_rate_limiter,
            self._h.get(),
            raw_name,
            len(raw_name),
            text or None,
            len(text),
            clock_p,
            ctypes.byref(ptr),
        )
        known = self._remember(("rate_limiter", name), explicit if text else None, clock)
        return RateLimiter._from_handle(ptr, {**known[0], "name": name}, known[1])

    def prometheus(self) -> str:
        """The Prometheus text (exposition format) of every policy in the registry, as
        the library writes it (families ``breakwater_breaker_*``,
        ``breakwater_bulkhead_*``, ``breakwater_rate_limiter_*``): serve it at
        ``/metrics``, or see :class:`breakwater.prometheus.RegistryCollector` for
        ``prometheus_client``. An empty registry gives ``# EOF`` alone (OpenMetrics).

        >>> from breakwater import Registry
        >>> reg = Registry()
        >>> _ = reg.breaker("db")
        >>> "# TYPE breakwater_breaker_state gauge" in reg.prometheus()
        True
        """
        return _registry_text(lib.bw_registry_prometheus, self._h.get())

    @staticmethod
    def prometheus_content_type() -> str:
        """The HTTP content type of :meth:`prometheus`'s text, as the library names it
        (OpenMetrics 1.0).

        >>> from breakwater import Registry
        >>> Registry.prometheus_content_type()
        'application/openmetrics-text; version=1.0.0; charset=utf-8'
        """
        text: bytes = lib.bw_registry_prometheus_content_type()
        return text.decode()

    def health(self) -> dict[str, Any]:
        """The health report of the registry's breakers, as a dict: ``{"status": "UP",
        "components": {"db": {"status": "UP", "details": {"state": "closed"}}}}``. A
        breaker is ``UP`` closed or disabled, ``DEGRADED`` half-open, ``DOWN`` open or
        forced open; the overall status is the worst (the library decides all of it).

        >>> from breakwater import Registry
        >>> reg = Registry()
        >>> reg.breaker("db").force_open()
        >>> report = reg.health()
        >>> report["status"], report["components"]["db"]["status"]
        ('DOWN', 'DOWN')
        """
        result: dict[str, Any] = _json.loads(
            _registry_text(lib.bw_registry_health_json, self._h.get())
        )
        return result

    def shared_breaker(
        self, name: str, config: Optional[dict[str, Any]] = None, **settings: Any
    ) -> "SharedCircuitBreaker":
        """The registry's :class:`~breakwater.SharedCircuitBreaker` named ``name`` (same
        settings), built on first use; without settings the registered one. It is in
        the registry's exports."""
        from .shared import registry_shared_breaker

        return registry_shared_breaker(self, name, config, **settings)

    def shared_rate_limiter(
        self, name: str, config: Optional[dict[str, Any]] = None, **settings: Any
    ) -> "SharedRateLimiter":
        """The registry's :class:`~breakwater.SharedRateLimiter` named ``name``, as
        :meth:`shared_breaker`."""
        from .shared import registry_shared_rate_limiter

        return registry_shared_rate_limiter(self, name, config, **settings)

    def close(self) -> None:
        """Makes later calls raise ``ValueError``; breakers stay usable. Idempotent."""
        self._h.close()
