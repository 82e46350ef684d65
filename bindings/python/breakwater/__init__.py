"""breakwater: a synchronous, thread-based resilience kit (circuit breaker, retry,
deadlines, bulkheads, rate limiting), through ctypes over the breakwater C library.

The library is looked for through ``BREAKWATER_LIB``, then next to this package, then
in the cargo target folder of the repository (release, then debug); its version must
equal this package's.

The library's log records (breaker transitions, rejections, retries) go to the standard
:mod:`logging` loggers ``breakwater.*`` (see :func:`sync_log_level`).
"""

from __future__ import annotations

from . import errors
from ._lib import last_error_message, path as library_path, status_name
from ._version import __version__
from .bulkhead import Bulkhead, BulkheadMetrics
from .breaker import (
    BreakerConfig,
    BreakerMetrics,
    CallEvent,
    CallKind,
    CircuitBreaker,
    Outcome,
    Permit,
    Registry,
    State,
    Transition,
)
from .cancel import CancelToken
from .clock import Clock, ManualClock, MonotonicClock
from .deadline import Deadline
from .pool import PoolMetrics, ShutdownReport, Task, ThreadPool
from .timeout import TimeLimiter, TimeLimiterMetrics
from .pipeline import Fallback, Pipeline, resilient
from .errors import (
    BreakwaterError,
    BulkheadFullError,
    CancelledError,
    CircuitOpenError,
    DeadlineExceededError,
    FailedError,
    ForcedOpenError,
    InvalidArgumentError,
    InvalidConfigError,
    PanicError,
    QueueFullError,
    RateLimitedError,
    RejectedError,
    RetryBudgetExhaustedError,
    ShutdownError,
    StaleError,
    TimeoutError,
    TrialFullError,
)
from .ratelimit import RateLimiter, RateLimiterMetrics
from .retry import Retry, RetryOutcome, RetryState, StopReason, retry
from .shared import SharedCircuitBreaker, SharedPermit, SharedRateLimiter
from ._logging import sync_log_level
from . import _logging

# The library's log records (breaker transitions, ...) go to the `breakwater` loggers.
_logging._install()


def version() -> str:
    """The loaded library's version (equal to :data:`__version__`)."""
    from ._lib import lib

    return str(lib.bw_version().decode())


__all__ = [
    "SharedCircuitBreaker",
    "SharedPermit",
    "SharedRateLimiter",
    "Bulkhead",
    "BulkheadMetrics",
    "Deadline",
    "Outcome",
    "RateLimiter",
    "RateLimiterMetrics",
    "Retry",
    "RetryState",
    "StopReason",
    "retry",
    "BreakerConfig",
    "BreakerMetrics",
    "CallEvent",
    "CallKind",
    "CircuitBreaker",
    "RetryOutcome",
    "Permit",
    "Registry",
    "State",
    "Transition",
    "BreakwaterError",
    "BulkheadFullError",
    "CancelToken",
    "CancelledError",
    "CircuitOpenError",
    "Clock",
    "DeadlineExceededError",
    "FailedError",
    "Fallback",
    "ForcedOpenError",
    "InvalidArgumentError",
    "InvalidConfigError",
    "ManualClock",
    "MonotonicClock",
    "PanicError",
    "Pipeline",
    "PoolMetrics",
    "QueueFullError",
    "RateLimitedError",
    "RejectedError",
    "RetryBudgetExhaustedError",
    "ShutdownReport",
    "ShutdownError",
    "StaleError",
    "Task",
    "ThreadPool",
    "TimeLimiter",
    "TimeLimiterMetrics",
    "TimeoutError",
    "TrialFullError",
    "__version__",
    "errors",
    "last_error_message",
    "resilient",
    "library_path",
    "status_name",
    "sync_log_level",
    "version",
]
