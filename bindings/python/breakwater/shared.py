"""Breakers and rate limiters shared by a fleet of processes through Redis:
:class:`SharedCircuitBreaker` and :class:`SharedRateLimiter`.

Processes that name the same policy (same ``name`` and ``key_prefix``) on the same Redis
share its state: one process's trip stops the others' calls within the notification
delay, and a quota holds for the whole fleet. Closed-state admissions never wait on
Redis; when Redis is unreachable a policy keeps working on local state and reports
``health == "DEGRADED"`` (see ``docs/redis.md`` for the consistency model).

The library must be built with the ``redis`` feature (the wheel and ``make`` are);
otherwise building a shared policy raises :class:`~breakwater.InvalidConfigError`
("built without the redis feature"). Defaults come from the library
(``bw_shared_breaker_config_defaults_json``).

>>> from breakwater import SharedCircuitBreaker, shared
>>> if shared.available():  # a library built with the redis feature
...     b = SharedCircuitBreaker(name="authors", redis_url="redis://127.0.0.1:1/",
...                              consecutive_failures=1, op_timeout=0.05)
...     print(b.health, b.call(lambda: 7))  # nothing listens on port 1: works locally
... else:
...     print("DEGRADED", 7)
DEGRADED 7
"""

from __future__ import annotations

import ctypes
import functools
import json
import threading
from ctypes import POINTER, c_bool, c_int, c_int32, c_size_t, c_uint32, c_uint64, c_void_p
from dataclasses import dataclass
from typing import Any, Callable, Optional, TypeVar

from . import _abi, _lib, errors
from ._handle import Handle
from ._lib import KEEP_GIL, RELEASE_GIL, call, lib
from .breaker import REGISTRY_P, Outcome, State, _STATES, _err, _rejection, config_json
from .cancel import CancelToken
from .clock import Seconds, to_nanos
from .deadline import cancel_pointer
from .ratelimit import LIMITER_P  # noqa: F401 (keeps the limiter's declarations loaded)


class bw_shared_breaker(ctypes.Structure):
    """Opaque ``bw_shared_breaker``."""


class bw_shared_rate_limiter(ctypes.Structure):
    """Opaque ``bw_shared_rate_limiter``."""


class bw_shared_permit(ctypes.Structure):
    """``struct bw_shared_permit`` (plain data)."""

    _fields_ = [
        ("generation", c_uint64),
        ("acquired_ns", c_uint64),
        ("trial", c_bool),
        ("local", c_bool),
    ]


_BREAKER_STATS = [
    "state",
    "health",
    "generation",
    "fleet_successes",
    "fleet_failures",
    "fleet_consecutive_failures",
    "fleet_stale_dropped",
    "total_requests",
    "total_successes",
    "total_failures",
    "total_ignored",
    "rejected_open",
    "rejected_trial_full",
    "rejected_forced_open",
    "stale_dropped",
    "transitions",
    "opened",
    "redis_commands",
    "redis_errors",
    "redis_degraded",
    "redis_resyncs",
    "redis_notifications",
    "redis_polls",
    "redis_batches",
    "redis_outcomes_lost",
    "redis_script_reloads",
]


class bw_shared_breaker_stats(ctypes.Structure):
    """``struct bw_shared_breaker_stats`` (size-tagged)."""

    _fields_ = [("size", c_size_t), ("state", c_uint32), ("health", c_uint32)] + [
        (f, c_uint64) for f in _BREAKER_STATS[2:]
    ]


_LIMITER_STATS = [
    "health",
    "permitted",
    "rejected",
    "overshoot_bound",
    "redis_commands",
    "redis_errors",
    "redis_degraded",
    "redis_resyncs",
]


class bw_shared_limiter_stats(ctypes.Structure):
    """``struct bw_shared_limiter_stats`` (size-tagged)."""

    _fields_ = [("size", c_size_t), ("health", c_uint32)] + [
        (f, c_uint64) for f in _LIMITER_STATS[1:]
    ]


SHARED_BREAKER_P = POINTER(bw_shared_breaker)
SHARED_LIMITER_P = POINTER(bw_shared_rate_limiter)
_CALL_FN = ctypes.CFUNCTYPE(c_int, c_void_p)
_E = _abi.ERROR_P

_lib.declare(
    {
        "bw_shared_breaker_new_json": (
            c_int32,
            [ctypes.c_char_p, c_size_t, POINTER(SHARED_BREAKER_P), _E],
            RELEASE_GIL,  # connects once, within op_timeout
        ),
        "bw_shared_breaker_free": (None, [SHARED_BREAKER_P], RELEASE_GIL),
        # A half-open admission is one round trip to Redis.
        "bw_shared_breaker_try_acquire": (
            c_int32,
            [SHARED_BREAKER_P, POINTER(bw_shared_permit), _E],
            RELEASE_GIL,
        ),
        "bw_shared_breaker_record": (
            c_int32,
            [SHARED_BREAKER_P, bw_shared_permit, c_uint32, _E],
            KEEP_GIL,
        ),
        # Calls back into Python: keeps the GIL (declared for completeness; call() uses
        # acquire/record).
        "bw_shared_breaker_call": (
            c_int32,
            [SHARED_BREAKER_P, _CALL_FN, c_void_p, POINTER(c_int), _E],
            KEEP_GIL,
        ),
        "bw_shared_breaker_state": (c_int32, [SHARED_BREAKER_P, POINTER(c_uint32), _E], KEEP_GIL),
        "bw_shared_breaker_health": (c_int32, [SHARED_BREAKER_P, POINTER(c_uint32), _E], KEEP_GIL),
        "bw_shared_breaker_metrics": (
            c_int32,
            [SHARED_BREAKER_P, POINTER(bw_shared_breaker_stats), _E],
            KEEP_GIL,
        ),
        "bw_shared_breaker_flush": (c_int32, [SHARED_BREAKER_P, _E], RELEASE_GIL),
        "bw_shared_breaker_reset": (c_int32, [SHARED_BREAKER_P, _E], RELEASE_GIL),
        "bw_shared_breaker_force_open": (c_int32, [SHARED_BREAKER_P, _E], RELEASE_GIL),
        "bw_shared_breaker_config_defaults_json": (ctypes.c_char_p, [], KEEP_GIL),
        "bw_shared_breaker_config_schema_json": (ctypes.c_char_p, [], KEEP_GIL),
        "bw_shared_rate_limiter_new_json": (
            c_int32,
            [ctypes.c_char_p, c_size_t, POINTER(SHARED_LIMITER_P), _E],
            RELEASE_GIL,
        ),
        "bw_shared_rate_limiter_free": (None, [SHARED_LIMITER_P], RELEASE_GIL),
        "bw_shared_rate_limiter_try_acquire": (
            c_int32,
            [SHARED_LIMITER_P, POINTER(c_uint64), _E],
            RELEASE_GIL,
        ),
        "bw_shared_rate_limiter_acquire_timeout": (
            c_int32,
            [SHARED_LIMITER_P, c_uint64, _abi.CANCEL_P, _E],
            RELEASE_GIL,
        ),
        "bw_shared_rate_limiter_health": (
            c_int32,
            [SHARED_LIMITER_P, POINTER(c_uint32), _E],
            KEEP_GIL,
        ),
        "bw_shared_rate_limiter_metrics": (
            c_int32,
            [SHARED_LIMITER_P, POINTER(bw_shared_limiter_stats), _E],
            KEEP_GIL,
        ),
        "bw_shared_rate_limiter_config_defaults_json": (ctypes.c_char_p, [], KEEP_GIL),
        "bw_shared_rate_limiter_config_schema_json": (ctypes.c_char_p, [], KEEP_GIL),
        "bw_registry_shared_breaker": (
            c_int32,
            [REGISTRY_P, ctypes.c_char_p, c_size_t, ctypes.c_char_p, c_size_t,
             POINTER(SHARED_BREAKER_P), _E],
            RELEASE_GIL,
        ),
        "bw_registry_shared_rate_limiter": (
            c_int32,
            [REGISTRY_P, ctypes.c_char_p, c_size_t, ctypes.c_char_p, c_size_t,
             POINTER(SHARED_LIMITER_P), _E],
            RELEASE_GIL,
        ),
        "bw_redis_health_name": (ctypes.c_char_p, [c_uint32], KEEP_GIL),
    }
)

F = TypeVar("F", bound=Callable[..., Any])
_try_acquire = lib.bw_shared_breaker_try_acquire
_record = lib.bw_shared_breaker_record


def _health_name(code: int) -> str:
    name = lib.bw_redis_health_name(code)
    return name.decode() if name else f"unknown ({code})"


def _redis_keys(
    redis_url: Optional[str],
    key_prefix: Optional[str],
    op_timeout: Optional[Seconds],
    flush_interval: Optional[Seconds],
    poll_interval: Optional[Seconds],
) -> dict[str, Any]:
    """The Redis keys of the JSON configuration (only those given: the library has the
    defaults)."""
    out: dict[str, Any] = {}
    for value, key in ((redis_url, "redis_url"), (key_prefix, "key_prefix")):
        if value is not None:
            if not isinstance(value, str):
                raise TypeError(f"{key} must be a str, not {type(value).__name__}")
            out[key] = value
    for value, key in (
        (op_timeout, "op_timeout"),
        (flush_interval, "flush_interval"),
        (poll_interval, "poll_interval"),
    ):
        if value is not None:
            out[f"{key}_ms"] = to_nanos(value, key) / 1e6
    return out


def available() -> bool:
    """``True`` when the loaded library was built with the ``redis`` feature (else every
    shared policy raises :class:`~breakwater.InvalidConfigError`)."""
    return lib.bw_shared_breaker_config_defaults_json() is not None


def defaults(policy: str = "breaker") -> dict[str, Any]:
    """The library's default configuration of a shared ``"breaker"`` or
    ``"rate_limiter"`` (every JSON key); raises
    :class:`~breakwater.InvalidConfigError` without the redis feature.

    >>> defaults()["key_prefix"] if available() else "breakwater"
    'breakwater'
    """
    getter = {
        "breaker": lib.bw_shared_breaker_config_defaults_json,
        "rate_limiter": lib.bw_shared_rate_limiter_config_defaults_json,
    }[policy]
    text = getter()
    if text is None:
        raise errors.InvalidConfigError(
            "built without the redis feature", status=_abi.INVALID_CONFIG
        )
    return dict(json.loads(text.decode()))


@dataclass(frozen=True)
class SharedBreakerMetrics:
    """A snapshot of a shared breaker: ``state``, ``health`` (``"UP"`` or
    ``"DEGRADED"``), the shared ``generation``, the fleet's counts (``fleet_*``, as of the
    last reply from Redis), this process's counts (``total_*``, ``rejected_*``,
    ``stale_dropped``, ``transitions``, ``opened``) and its traffic with Redis
    (``redis_*``)."""

    state: State
    health: str
    generation: int
    fleet_successes: int
    fleet_failures: int
    fleet_consecutive_failures: int
    fleet_stale_dropped: int
    total_requests: int
    total_successes: int
    total_failures: int
    total_ignored: int
    rejected_open: int
    rejected_trial_full: int
    rejected_forced_open: int
    stale_dropped: int
    transitions: int
    opened: int
    redis_commands: int
    redis_errors: int
    redis_degraded: int
    redis_resyncs: int
    redis_notifications: int
    redis_polls: int
    redis_batches: int
    redis_outcomes_lost: int
    redis_script_reloads: int


@dataclass(frozen=True)
class SharedRateLimiterMetrics:
    """A snapshot of a shared rate limiter: ``health``, this process's ``permitted`` and
    ``rejected`` counts, the lease's ``overshoot_bound`` and the Redis counters."""

    health: str
    permitted: int
    rejected: int
    overshoot_bound: int
    redis_commands: int
    redis_errors: int
    redis_degraded: int
    redis_resyncs: int


class SharedPermit:
    """Permission to run one call (from :meth:`SharedCircuitBreaker.acquire`): report its
    outcome once with :meth:`success`, :meth:`failure` or :meth:`ignore` (``True`` when
    recorded, ``False`` when stale). As a context manager an exception is a failure,
    else a success."""

    __slots__ = ("_breaker", "_raw", "_done")

    def __init__(self, breaker: "SharedCircuitBreaker", raw: bw_shared_permit) -> None:
        self._breaker = breaker
        self._raw = raw
        self._done = False

    @property
    def generation(self) -> int:
        """The generation the call was admitted in."""
        return int(self._raw.generation)

    @property
    def local(self) -> bool:
        """``True`` when the local fallback admitted the call (Redis was unreachable)."""
        return bool(self._raw.local)

    def record(self, outcome: Outcome) -> bool:
        """Reports ``outcome``."""
        if self._done:
            raise ValueError("this permit's outcome was already reported")
        if not isinstance(outcome, Outcome):
            raise TypeError(f"outcome must be an Outcome, not {type(outcome).__name__}")
        self._done = True
        return self._breaker._record(self._raw, int(outcome))

    def success(self) -> bool:
        """Reports a success."""
        return self.record(Outcome.SUCCESS)

    def failure(self) -> bool:
        """Reports a failure."""
        return self.record(Outcome.FAILURE)

    def ignore(self) -> bool:
        """Reports neither (gives a half-open admission back)."""
        return self.record(Outcome.IGNORED)

    def __enter__(self) -> "SharedPermit":
        return self

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> None:
        if not self._done:
            self.record(Outcome.SUCCESS if exc is None else Outcome.FAILURE)

    def __del__(self) -> None:
        if not getattr(self, "_done", True):
            self._done = True
            try:
                self._breaker._record(self._raw, int(Outcome.IGNORED))
            except Exception:  # noqa: BLE001 (a finalizer must not raise)
                pass


class SharedCircuitBreaker:
    """A circuit breaker shared through Redis by every process naming it.

    Breaker settings as for :class:`~breakwater.CircuitBreaker` (``config`` in the C
    ABI's JSON form, or keywords: ``consecutive_failures``, ``failures_in_window`` with
    ``failure_window``, ``failure_rate`` with ``window_time`` and ``minimum_calls``,
    ``open_duration``, ``half_open_max_calls``, ...), plus where Redis is:
    ``redis_url``, ``key_prefix``, ``op_timeout``, ``flush_interval``,
    ``poll_interval`` (seconds or ``timedelta``). Unset values are the library's
    defaults. A malformed ``redis_url`` raises :class:`~breakwater.InvalidConfigError`;
    an unreachable server does not (the breaker starts degraded).

    Use it like a local breaker: :meth:`call`, as a decorator, ``with breaker:``, or
    :meth:`acquire` and a :class:`SharedPermit`. An exception of the guarded call is a
    failure.
    """

    def __init__(
        self,
        config: Optional[dict[str, Any]] = None,
        *,
        name: Optional[str] = None,
        redis_url: Optional[str] = None,
        key_prefix: Optional[str] = None,
        op_timeout: Optional[Seconds] = None,
        flush_interval: Optional[Seconds] = None,
        poll_interval: Optional[Seconds] = None,
        _ptr: Any = None,
        **settings: Any,
    ) -> None:
        if _ptr is None:
            text = self.config_text(
                config,
                name=name,
                redis_url=redis_url,
                key_prefix=key_prefix,
                op_timeout=op_timeout,
                flush_interval=flush_interval,
                poll_interval=poll_interval,
                **settings,
            )
            _ptr = SHARED_BREAKER_P()
            call(lib.bw_shared_breaker_new_json, text, len(text), ctypes.byref(_ptr))
        self._h = Handle(self, _ptr, lib.bw_shared_breaker_free, "shared circuit breaker")
        self._name = name or (config or {}).get("name") or "default"
        self._local = threading.local()

    @staticmethod
    def config_text(config: Optional[dict[str, Any]] = None, **kwargs: Any) -> bytes:
        """The JSON text for ``config`` and the keyword settings (see the class)."""
        redis = _redis_keys(
            kwargs.pop("redis_url", None),
            kwargs.pop("key_prefix", None),
            kwargs.pop("op_timeout", None),
            kwargs.pop("flush_interval", None),
            kwargs.pop("poll_interval", None),
        )
        out = json.loads(config_json(config, **kwargs))
        out.update(redis)
        return json.dumps(out).encode()

    # -- the protocol -----------------------------------------------------------------

    def acquire(self) -> SharedPermit:
        """A :class:`SharedPermit`, or raises :class:`~breakwater.CircuitOpenError`
        (:class:`~breakwater.TrialFullError`, :class:`~breakwater.ForcedOpenError`)."""
        raw = bw_shared_permit()
        err = _err()
        status = lib.bw_shared_breaker_try_acquire(self._h.get(), ctypes.byref(raw), ctypes.byref(err))
        if status:
            raise _rejection(err, self._name)
        return SharedPermit(self, raw)

    def _record(self, raw: bw_shared_permit, outcome: int) -> bool:
        err = _err()
        status = lib.bw_shared_breaker_record(self._h.get(), raw, outcome, ctypes.byref(err))
        if status == _abi.STALE:
            return False
        if status:
            raise errors.from_error(err)
        return True

    def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Runs ``fn(*args, **kwargs)`` through the breaker and returns its result; an
        exception it raises is recorded as a failure and re-raised unchanged."""
        # The permit protocol without a SharedPermit object; a stale outcome (the state
        # changed during the call) is not the caller's error, so no error object.
        handle = self._h.get()
        raw = bw_shared_permit()
        err = _err()
        if _try_acquire(handle, ctypes.byref(raw), ctypes.byref(err)):
            raise _rejection(err, self._name)
        try:
            result = fn(*args, **kwargs)
        except BaseException:
            _record(handle, raw, _abi.OUTCOME_FAILURE, None)
            raise
        _record(handle, raw, _abi.OUTCOME_SUCCESS, None)
        return result

    def __call__(self, fn: F) -> F:
        """Decorator: every call of ``fn`` goes through :meth:`call`."""
        if not callable(fn):
            raise TypeError("SharedCircuitBreaker decorates callables")

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            return self.call(fn, *args, **kwargs)

        return guarded  # type: ignore[return-value]

    def __enter__(self) -> "SharedCircuitBreaker":
        permit = self.acquire()
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        stack.append(permit)
        return self

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> None:
        self._local.stack.pop().__exit__(exc_type, exc, tb)

    # -- state, health, metrics, manual controls ----------------------------------------

    @property
    def state(self) -> State:
        """The state this process acts on."""
        out = c_uint32()
        call(lib.bw_shared_breaker_state, self._h.get(), ctypes.byref(out))
        return _STATES[out.value]

    @property
    def health(self) -> str:
        """``"UP"`` while Redis answers, ``"DEGRADED"`` while the breaker works on local
        state."""
        out = c_uint32()
        call(lib.bw_shared_breaker_health, self._h.get(), ctypes.byref(out))
        return _health_name(out.value)

    def metrics(self) -> SharedBreakerMetrics:
        """A snapshot of the counts (see :class:`SharedBreakerMetrics`)."""
        m = bw_shared_breaker_stats()
        m.size = ctypes.sizeof(m)
        call(lib.bw_shared_breaker_metrics, self._h.get(), ctypes.byref(m))
        values = {f: int(getattr(m, f)) for f in _BREAKER_STATS}
        values["state"] = _STATES[values["state"]]
        values["health"] = _health_name(values["health"])
        return SharedBreakerMetrics(**values)

    def flush(self) -> None:
        """Sends this process's waiting outcomes now and reads the shared state back;
        raises :class:`~breakwater.FailedError` when Redis does not answer in time."""
        call(lib.bw_shared_breaker_flush, self._h.get())

    def reset(self) -> None:
        """Closes the breaker for the whole fleet."""
        call(lib.bw_shared_breaker_reset, self._h.get())

    def force_open(self) -> None:
        """Forces the breaker open for the whole fleet, until :meth:`reset`."""
        call(lib.bw_shared_breaker_force_open, self._h.get())

    def close(self) -> None:
        """Makes later calls raise ``ValueError`` (the breaker's threads stop when the
        object is collected)."""
        self._h.close()

    def __repr__(self) -> str:
        return f"SharedCircuitBreaker(name={self._name!r})"


class SharedRateLimiter:
    """A rate limiter whose quota (``permits`` per ``period``, with a ``burst``) the
    whole fleet shares through Redis (GCRA evaluated atomically in Redis).

    ``lease`` takes that many permits at once to save round trips (at the cost of a
    bounded overshoot, :attr:`SharedRateLimiterMetrics.overshoot_bound`); the Redis
    keywords are those of :class:`SharedCircuitBreaker`. ``with limiter:`` and the
    decorator take one permit (waiting up to ``max_wait``, default 0) or raise
    :class:`~breakwater.RateLimitedError`.

    >>> from breakwater import SharedRateLimiter, shared
    >>> if shared.available():
    ...     limiter = SharedRateLimiter(2, 60, redis_url="redis://127.0.0.1:1/", op_timeout=0.05)
    ...     print(limiter.try_acquire(), limiter.try_acquire(), limiter.try_acquire())
    ... else:
    ...     print(True, True, False)
    True True False
    """

    def __init__(
        self,
        permits: Optional[int] = None,
        period: Optional[Seconds] = None,
        *,
        burst: Optional[int] = None,
        max_wait: Optional[Seconds] = None,
        name: Optional[str] = None,
        lease: Optional[int] = None,
        redis_url: Optional[str] = None,
        key_prefix: Optional[str] = None,
        op_timeout: Optional[Seconds] = None,
        poll_interval: Optional[Seconds] = None,
        _ptr: Any = None,
    ) -> None:
        sent = self._config(permits, period, burst, max_wait, name, lease)
        sent.update(_redis_keys(redis_url, key_prefix, op_timeout, None, poll_interval))
        if _ptr is None:
            text = json.dumps(sent).encode()
            _ptr = SHARED_LIMITER_P()
            call(lib.bw_shared_rate_limiter_new_json, text, len(text), ctypes.byref(_ptr))
        self._h = Handle(self, _ptr, lib.bw_shared_rate_limiter_free, "shared rate limiter")
        self.config: dict[str, Any] = {**defaults("rate_limiter"), **sent}
        self.max_wait: Seconds = self.config["max_wait_ms"] / 1000

    @staticmethod
    def _config(
        permits: Optional[int],
        period: Optional[Seconds],
        burst: Optional[int],
        max_wait: Optional[Seconds],
        name: Optional[str],
        lease: Optional[int],
    ) -> dict[str, Any]:
        sent: dict[str, Any] = {}
        for value, what in ((permits, "permits"), (burst, "burst"), (lease, "lease")):
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

    def try_acquire(self) -> bool:
        """Takes one permit if the fleet has one free now; ``False`` otherwise."""
        err = _err()
        status = lib.bw_shared_rate_limiter_try_acquire(self._h.get(), None, ctypes.byref(err))
        if status == _abi.REJECTED:
            return False
        if status:
            raise errors.from_error(err)
        return True

    def acquire(self, timeout: Optional[Seconds] = None, cancel: Optional[CancelToken] = None) -> None:
        """Takes one permit, waiting up to ``timeout`` (default ``max_wait``) when one
        will be free by then; raises :class:`~breakwater.RateLimitedError` otherwise."""
        wait = self.max_wait if timeout is None else timeout
        call(
            lib.bw_shared_rate_limiter_acquire_timeout,
            self._h.get(),
            to_nanos(wait, "timeout"),
            cancel_pointer(cancel),
        )

    def __enter__(self) -> "SharedRateLimiter":
        self.acquire()
        return self

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> None:
        return None

    def __call__(self, fn: F) -> F:
        """Decorator: each call of ``fn`` takes a permit first."""
        if not callable(fn):
            raise TypeError("SharedRateLimiter decorates callables")

        @functools.wraps(fn)
        def limited(*args: Any, **kwargs: Any) -> Any:
            self.acquire()
            return fn(*args, **kwargs)

        return limited  # type: ignore[return-value]

    @property
    def health(self) -> str:
        """``"UP"`` or ``"DEGRADED"``."""
        out = c_uint32()
        call(lib.bw_shared_rate_limiter_health, self._h.get(), ctypes.byref(out))
        return _health_name(out.value)

    def metrics(self) -> SharedRateLimiterMetrics:
        """A snapshot of the counters."""
        m = bw_shared_limiter_stats()
        m.size = ctypes.sizeof(m)
        call(lib.bw_shared_rate_limiter_metrics, self._h.get(), ctypes.byref(m))
        values = {f: int(getattr(m, f)) for f in _LIMITER_STATS}
        values["health"] = _health_name(values["health"])
        return SharedRateLimiterMetrics(**values)

    def close(self) -> None:
        """Makes later calls raise ``ValueError``."""
        self._h.close()


def registry_shared_breaker(
    registry: Any, name: str, config: Optional[dict[str, Any]] = None, **kwargs: Any
) -> SharedCircuitBreaker:
    """``Registry.shared_breaker``: the registry's shared breaker ``name`` (see
    :meth:`breakwater.Registry.shared_breaker`)."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, not {type(name).__name__}")
    explicit = config is not None or any(v is not None for v in kwargs.values())
    text = SharedCircuitBreaker.config_text(config, **kwargs) if explicit else b""
    raw = name.encode()
    ptr = SHARED_BREAKER_P()
    call(lib.bw_registry_shared_breaker, registry._h.get(), raw, len(raw), text, len(text),
         ctypes.byref(ptr))
    return SharedCircuitBreaker(name=name, _ptr=ptr)


def registry_shared_rate_limiter(
    registry: Any, name: str, config: Optional[dict[str, Any]] = None, **kwargs: Any
) -> SharedRateLimiter:
    """``Registry.shared_rate_limiter``: the registry's shared rate limiter ``name``."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, not {type(name).__name__}")
    sent = dict(config or {})
    redis = {k: kwargs.pop(k, None) for k in ("redis_url", "key_prefix", "op_timeout", "poll_interval")}
    sent.update(
        SharedRateLimiter._config(
            kwargs.pop("permits", None),
            kwargs.pop("period", None),
            kwargs.pop("burst", None),
            kwargs.pop("max_wait", None),
            None,
            kwargs.pop("lease", None),
        )
    )
    if kwargs:
        raise TypeError(f"unexpected keyword arguments: {', '.join(sorted(kwargs))}")
    sent.update(_redis_keys(redis["redis_url"], redis["key_prefix"], redis["op_timeout"], None,
                            redis["poll_interval"]))
    text = json.dumps(sent).encode() if sent else b""
    raw = name.encode()
    ptr = SHARED_LIMITER_P()
    call(lib.bw_registry_shared_rate_limiter, registry._h.get(), raw, len(raw), text, len(text),
         ctypes.byref(ptr))
    return SharedRateLimiter(name=name, _ptr=ptr)
