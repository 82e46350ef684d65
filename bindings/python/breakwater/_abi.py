"""The C ABI as data: constants and structures of ``include/breakwater.h``.

Mirrors the header by hand; ``ffi-tests/python/test_library.py`` parses the header and
fails on any difference, so a new ``#define BW_*`` must be added here too. Loading the
library is ``_lib.py``'s job: this module needs none.
"""

from __future__ import annotations

import ctypes

ABI_VERSION = 2
ERROR_MESSAGE_LEN = 1024
NAME_MAX_LEN = 128

# bw_status values (fixed, never reused).
OK = 0
REJECTED = 1
TIMED_OUT = 2
FAILED = 3
INVALID_ARGUMENT = 4
INVALID_CONFIG = 5
PANIC = 6
STALE = 7
CANCELLED = 8
SHUTDOWN = 9
BUFFER_TOO_SMALL = 10

# bw_shared_*_health values (names: bw_redis_health_name).
# bw_health_status_name codes (the words of a health report).
HEALTH_UP = 0
HEALTH_DEGRADED = 1
HEALTH_DOWN = 2

REDIS_HEALTHY = 0
REDIS_DEGRADED = 1

# bw_error.policy values.
POLICY_NONE = 0
POLICY_CIRCUIT_BREAKER = 1
POLICY_RETRY = 2
POLICY_DEADLINE = 3
POLICY_TIME_LIMITER = 4
POLICY_BULKHEAD = 5
POLICY_THREAD_POOL = 6
POLICY_RATE_LIMITER = 7
POLICY_FALLBACK = 8
POLICY_CACHE = 9
POLICY_PIPELINE = 10
POLICY_HTTP = 11

# bw_error.reason values (why a policy rejected a call).
REASON_NONE = 0
REASON_OPEN = 1
REASON_TRIAL_FULL = 2
REASON_FORCED_OPEN = 3
REASON_BULKHEAD_FULL = 4
REASON_QUEUE_FULL = 5
REASON_SHUTDOWN = 6
REASON_RATE_LIMITED = 7
REASON_BUDGET_EXHAUSTED = 8
REASON_DEADLINE_EXCEEDED = 9
REASON_CANCELLED = 10

# bw_set_log_handler levels and the level of a bw_log_record (tracing's order: the
# most severe first).
LOG_OFF = 0
LOG_ERROR = 1
LOG_WARN = 2
LOG_INFO = 3
LOG_DEBUG = 4
LOG_TRACE = 5

# bw_clock_new kinds.
CLOCK_MONOTONIC = 0
CLOCK_MANUAL = 1

# bw_retry_next outcome kinds.
RETRY_OUTCOME_SUCCESS = 0
RETRY_OUTCOME_RETRYABLE = 1
RETRY_OUTCOME_PERMANENT = 2
RETRY_OUTCOME_REJECTED = 3

# bw_retry_next stop reasons (BW_RETRY_CONTINUE: not stopped).
RETRY_CONTINUE = 0
RETRY_STOP_SUCCEEDED = 1
RETRY_STOP_ATTEMPTS_EXHAUSTED = 2
RETRY_STOP_PERMANENT = 3
RETRY_STOP_REJECTED = 4
RETRY_STOP_BUDGET_EXHAUSTED = 5
RETRY_STOP_DEADLINE_REACHED = 6
# bw_pool_shutdown modes.
SHUTDOWN_DRAIN = 0
SHUTDOWN_CANCEL = 1

# bw_pipeline_builder_add_fallback flags.
FALLBACK_ON_REJECTED = 1
FALLBACK_ON_TIMED_OUT = 2
FALLBACK_ON_FAILED = 4
FALLBACK_ON_ALL = 7


class bw_error(ctypes.Structure):
    """``struct bw_error``: the per-call error object (1056 bytes)."""

    _fields_ = [
        ("status", ctypes.c_int32),
        ("policy", ctypes.c_uint32),
        ("reason", ctypes.c_uint32),
        ("has_retry_after", ctypes.c_bool),
        ("retry_after_ns", ctypes.c_uint64),
        ("message_len", ctypes.c_size_t),
        ("message", ctypes.c_char * ERROR_MESSAGE_LEN),
    ]


class bw_clock(ctypes.Structure):
    """Opaque ``bw_clock`` (only used through pointers)."""


class bw_cancel(ctypes.Structure):
    """Opaque ``bw_cancel`` (only used through pointers)."""


class bw_log_record(ctypes.Structure):
    """``struct bw_log_record``: one record handed to the handler of
    ``bw_set_log_handler`` (pointers valid during the call only)."""

    _fields_ = [
        ("level", ctypes.c_uint32),
        ("target", ctypes.c_void_p),
        ("target_len", ctypes.c_size_t),
        ("message", ctypes.c_void_p),
        ("message_len", ctypes.c_size_t),
        ("fields_json", ctypes.c_void_p),
        ("fields_json_len", ctypes.c_size_t),
    ]


ERROR_P = ctypes.POINTER(bw_error)
LOG_RECORD_P = ctypes.POINTER(bw_log_record)
# void (*)(const bw_log_record *record, void *user_data)
LOG_HANDLER = ctypes.CFUNCTYPE(None, LOG_RECORD_P, ctypes.c_void_p)
CLOCK_P = ctypes.POINTER(bw_clock)
CANCEL_P = ctypes.POINTER(bw_cancel)


# Circuit breaker (bw_breaker_*): states, outcomes, transition reasons, sizes.
STATE_CLOSED = 0
STATE_OPEN = 1
STATE_HALF_OPEN = 2
STATE_FORCED_OPEN = 3
STATE_DISABLED = 4
OUTCOME_SUCCESS = 0
OUTCOME_FAILURE = 1
OUTCOME_IGNORED = 2
TRANSITION_THRESHOLD_REACHED = 0
TRANSITION_OPEN_DURATION_ELAPSED = 1
TRANSITION_TRIAL_SUCCEEDED = 2
TRANSITION_TRIAL_FAILED = 3
TRANSITION_HALF_OPEN_TIMEOUT = 4
TRANSITION_RESET = 5
TRANSITION_FORCED_OPEN = 6
TRANSITION_DISABLED = 7
TRANSITION_MANUAL_OPEN = 8
TRANSITION_MANUAL_HALF_OPEN = 9
BREAKER_EVENT_QUEUE_LEN = 256
CALL_SUCCESS = 0
CALL_FAILURE = 1
CALL_IGNORED = 2
CALL_REJECTED = 3
CALL_STALE = 4
BREAKER_CALL_QUEUE_LEN = 1024
BREAKER_ENTER_RETRY_AFTER = 256
# Executors: thread pool, time limiter, pipeline.


class bw_pool(ctypes.Structure):
    """Opaque ``bw_pool``."""


class bw_task(ctypes.Structure):
    """Opaque ``bw_task``."""


class bw_time_limiter(ctypes.Structure):
    """Opaque ``bw_time_limiter``."""


class bw_pipeline_builder(ctypes.Structure):
    """Opaque ``bw_pipeline_builder``."""


class bw_pipeline(ctypes.Structure):
    """Opaque ``bw_pipeline``."""


class bw_shutdown_report(ctypes.Structure):
    """``struct bw_shutdown_report``."""

    _fields_ = [
        ("mode", ctypes.c_uint32),
        ("terminated", ctypes.c_bool),
        ("cancelled", ctypes.c_uint64),
        ("still_queued", ctypes.c_uint32),
        ("busy_workers", ctypes.c_uint32),
    ]


class bw_pool_stats(ctypes.Structure):
    """``struct bw_pool_stats`` (size-tagged)."""

    _fields_ = [
        ("size", ctypes.c_size_t),
        ("workers", ctypes.c_uint32),
        ("spawned", ctypes.c_uint32),
        ("busy", ctypes.c_uint32),
        ("queue_depth", ctypes.c_uint32),
        ("queue_capacity", ctypes.c_uint32),
        ("peak_queue", ctypes.c_uint32),
        ("rejected", ctypes.c_uint64),
        ("completed", ctypes.c_uint64),
        ("panicked", ctypes.c_uint64),
        ("cancelled", ctypes.c_uint64),
    ]


class bw_time_limiter_stats(ctypes.Structure):
    """``struct bw_time_limiter_stats`` (size-tagged)."""

    _fields_ = [
        ("size", ctypes.c_size_t),
        ("timed_out", ctypes.c_uint64),
        ("late_results_dropped", ctypes.c_uint64),
        ("rejected", ctypes.c_uint64),
        ("busy", ctypes.c_uint32),
        ("threads_spawned", ctypes.c_uint32),
    ]


class bw_call_info(ctypes.Structure):
    """``struct bw_call_info``."""

    _fields_ = [
        ("attempt", ctypes.c_uint32),
        ("remaining_ns", ctypes.c_uint64),
        ("cancel", CANCEL_P),
    ]


POOL_P = ctypes.POINTER(bw_pool)
TASK_P = ctypes.POINTER(bw_task)
TIME_LIMITER_P = ctypes.POINTER(bw_time_limiter)
PIPELINE_BUILDER_P = ctypes.POINTER(bw_pipeline_builder)
PIPELINE_P = ctypes.POINTER(bw_pipeline)
# void (*)(void *user_data)
VOID_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
# int (*)(void *user_data, const bw_cancel *cancel)
LIMITED_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, CANCEL_P)
# int (*)(void *user_data, const bw_call_info *info)
PIPELINE_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(bw_call_info))
