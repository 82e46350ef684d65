"""Exceptions: one class per kind of rejection, and the mapping from C statuses.

Every exception of the library derives from :class:`BreakwaterError`. Rejections (a
policy refused to run the call) derive from :class:`RejectedError`; time-outs from
:class:`TimeoutError`, which is also the built-in ``TimeoutError``; bad arguments and
configurations are also ``ValueError``.
"""

from __future__ import annotations

import builtins
import enum
import re
from typing import Any, Union

from . import _abi
from ._lib import lib, names


def identifier(name: str) -> str:
    """The enum member name of a library name: ``"circuit breaker"`` ->
    ``"CIRCUIT_BREAKER"``, ``"half-open trial full"`` -> ``"HALF_OPEN_TRIAL_FULL"``."""
    return re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_").upper()


def _vocabulary(enum_name: str, func: Any, doc: str) -> Any:
    """An ``IntEnum`` whose members are the library's codes and names (``bw_*_name``),
    with the library's name as ``label``."""
    entries = names(func)
    cls = enum.IntEnum(enum_name, [(identifier(n), c) for c, n in entries], module=__name__)  # type: ignore[misc]
    labels = dict(entries)
    cls.label = property(lambda self: labels[int(self)])  # type: ignore[attr-defined]
    cls.__doc__ = doc
    return cls


#: The policy of an error (``bw_error.policy``): ``Policy.NONE``,
#: ``Policy.CIRCUIT_BREAKER``, ``Policy.RETRY``, ... built from ``bw_policy_name``;
#: ``Policy.CIRCUIT_BREAKER.label`` is the library's name, ``"circuit breaker"``.
Policy = _vocabulary("Policy", lib.bw_policy_name, "The policy of an error (from the library).")

#: Why a policy rejected a call (``bw_error.reason``): ``Reason.NONE``, ``Reason.OPEN``,
#: ``Reason.HALF_OPEN_TRIAL_FULL``, ... built from ``bw_reason_name``.
Reason = _vocabulary("Reason", lib.bw_reason_name, "Why a policy rejected a call (from the library).")


def _member(cls: Any, code: int) -> Union[int, Any]:
    """``cls(code)``, or the plain int for a code this library does not know."""
    try:
        return cls(code)
    except ValueError:
        return code


class _FirstArgument:
    """``message`` of an exception built without ``__init__`` (see
    :class:`BreakwaterError`): its first argument. ``__init__`` stores ``message`` on
    the instance, which takes precedence."""

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        return obj.args[0] if obj.args else ""


# The attributes every BreakwaterError has (on the instance or, for one built without
# __init__, from its class).
_ATTRIBUTES = ("message", "status", "policy", "reason", "retry_after")


class BreakwaterError(Exception):
    """Base class of every breakwater error.

    Attributes: ``status`` (the C status code), ``status_name`` (``"BW_REJECTED"``, ...),
    ``policy`` (a :data:`Policy` member, ``Policy.NONE`` when none) and ``reason`` (a
    :data:`Reason` member), ``retry_after`` (seconds, or ``None``) and ``message``.
    """

    # The attributes of an exception built without __init__: a hot path (the breaker's
    # call()) raises BaseException.__new__(cls, message) and sets on the instance only
    # what differs from its class (retry_after). __init__ sets all of them on the
    # instance. Pickling and copying carry all of them (__reduce__).
    message: Any = _FirstArgument()
    status: int = _abi.FAILED
    policy: Any = Policy.NONE
    reason: Any = Reason.NONE
    retry_after: float | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int = _abi.FAILED,
        policy: int = _abi.POLICY_NONE,
        reason: int = _abi.REASON_NONE,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.policy = _member(Policy, policy)
        self.reason = _member(Reason, reason)
        self.retry_after = retry_after

    @property
    def status_name(self) -> str:
        """The name of :attr:`status`, as ``bw_status_name`` gives it."""
        if not -(2**31) <= self.status < 2**31:
            return "BW_UNKNOWN"
        return str(lib.bw_status_name(self.status).decode())

    def __str__(self) -> str:
        return self.message  # type: ignore[no-any-return]

    def __reduce__(self) -> Any:
        # As BaseException's (the class, args, then the instance's attributes as the
        # state), with the class-level attributes of an exception built without
        # __init__ in the state too: its copy has the same attributes.
        state = {name: getattr(self, name) for name in _ATTRIBUTES}
        state.update(self.__dict__)
        return (type(self), self.args, state)


class RejectedError(BreakwaterError):
    """A policy refused to run the call; nothing was run by that policy."""


class CircuitOpenError(RejectedError):
    """The circuit breaker is open (base of every breaker rejection)."""

    # What the breaker's call() raises without __init__ (checked against __init__'s
    # attributes when a breaker is created).
    status = _abi.REJECTED
    policy = Policy(_abi.POLICY_CIRCUIT_BREAKER)
    reason = Reason(_abi.REASON_OPEN)


class TrialFullError(CircuitOpenError):
    """The breaker is half-open and its trial has no admission left."""

    reason = Reason(_abi.REASON_TRIAL_FULL)


class ForcedOpenError(CircuitOpenError):
    """The breaker was forced open by hand."""

    reason = Reason(_abi.REASON_FORCED_OPEN)


class BulkheadFullError(RejectedError):
    """The semaphore bulkhead had no permit within its wait."""


class QueueFullError(RejectedError):
    """The thread pool's queue (or the time limiter's pool) is full."""


class ShutdownError(RejectedError):
    """The pool is shut down."""


class RateLimitedError(RejectedError):
    """The rate limiter has no permit now; :attr:`retry_after` says when one will be
    free (seconds)."""


class RetryBudgetExhaustedError(RejectedError):
    """The shared retry budget has no retry left."""


class TimeoutError(BreakwaterError, builtins.TimeoutError):  # noqa: A001 (as asyncio.TimeoutError)
    """The call did not finish within its deadline or time limit. Also a built-in
    ``TimeoutError``."""


class DeadlineExceededError(RejectedError, TimeoutError):
    """The call's deadline had passed before it started (a rejection and a time-out)."""


class CancelledError(BreakwaterError):
    """The call was cancelled through its cancellation token."""


class FailedError(BreakwaterError):
    """The guarded code reported a failure."""


class InvalidArgumentError(BreakwaterError, ValueError):
    """A bad argument reached the library (a closed handle, an out-of-range value)."""


class InvalidConfigError(BreakwaterError, ValueError):
    """A configuration was refused; the message names the field."""


class StaleError(BreakwaterError):
    """An outcome was reported for an older generation (or twice) and was dropped."""


class PanicError(BreakwaterError):
    """The library panicked: a bug in breakwater, please report it."""


_BY_REASON: dict[int, type[BreakwaterError]] = {
    _abi.REASON_OPEN: CircuitOpenError,
    _abi.REASON_TRIAL_FULL: TrialFullError,
    _abi.REASON_FORCED_OPEN: ForcedOpenError,
    _abi.REASON_BULKHEAD_FULL: BulkheadFullError,
    _abi.REASON_QUEUE_FULL: QueueFullError,
    _abi.REASON_SHUTDOWN: ShutdownError,
    _abi.REASON_RATE_LIMITED: RateLimitedError,
    _abi.REASON_BUDGET_EXHAUSTED: RetryBudgetExhaustedError,
    _abi.REASON_DEADLINE_EXCEEDED: DeadlineExceededError,
    _abi.REASON_CANCELLED: CancelledError,
}

_BY_STATUS: dict[int, type[BreakwaterError]] = {
    _abi.REJECTED: RejectedError,
    _abi.TIMED_OUT: TimeoutError,
    _abi.FAILED: FailedError,
    _abi.INVALID_ARGUMENT: InvalidArgumentError,
    _abi.INVALID_CONFIG: InvalidConfigError,
    _abi.PANIC: PanicError,
    _abi.STALE: StaleError,
    _abi.CANCELLED: CancelledError,
    _abi.SHUTDOWN: ShutdownError,
}


def error_class(status: int, reason: int = _abi.REASON_NONE) -> type[BreakwaterError]:
    """The exception class for a status and rejection reason: by reason first (for
    rejections), then by status, else :class:`BreakwaterError`."""
    if reason != _abi.REASON_NONE and reason in _BY_REASON:
        return _BY_REASON[reason]
    return _BY_STATUS.get(status, BreakwaterError)


def from_error(err: _abi.bw_error) -> BreakwaterError:
    """The exception for a filled ``bw_error`` (its fields are copied)."""
    message = err.message.decode("utf-8", errors="replace")
    retry_after = err.retry_after_ns / 1e9 if err.has_retry_after else None
    cls = error_class(err.status, err.reason)
    return cls(
        message,
        status=err.status,
        policy=err.policy,
        reason=err.reason,
        retry_after=retry_after,
    )
