"""The time limiter: runs a Python callable on one of the library's worker threads and
gives the caller control back at the deadline.

The callable runs on a library thread (ctypes takes the GIL there); the caller waits
with the GIL released. Its exception is re-raised unchanged in the caller; at the
deadline the caller gets :class:`~breakwater.errors.TimeoutError` while the callable
may go on running (Python threads cannot be killed): it can poll the
:class:`~breakwater.CancelToken`-like flag it is given (``cancelled()``) and stop
early; its late result is dropped.

On the main thread (where Ctrl-C arrives) the caller waits in slices of at most 100 ms
while a helper thread makes the blocking library call, so Ctrl-C interrupts the wait at
once: the call is cancelled (the callable sees its flag set) and KeyboardInterrupt
propagates. On other threads, or when the caller passes its own ``cancel`` token (cancel
it to stop waiting), the wait is one library call, bounded by the limiter's timeout.
"""

from __future__ import annotations

import ctypes
import json
import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional, TypeVar

from . import _abi, errors
from ._executor import JOBS, Job
from ._handle import Handle
from ._lib import KEEP_GIL, RELEASE_GIL, call, declare, lib
from .cancel import CancelToken
from .clock import Clock, Seconds, to_nanos

T = TypeVar("T")

declare(
    {
        "bw_time_limiter_new_json": (
            ctypes.c_int32,
            [ctypes.c_char_p, ctypes.c_size_t, _abi.CLOCK_P, ctypes.POINTER(_abi.TIME_LIMITER_P), _abi.ERROR_P],
            KEEP_GIL,
        ),
        "bw_time_limiter_call": (
            ctypes.c_int32,
            [
                _abi.TIME_LIMITER_P,
                _abi.LIMITED_CALLBACK,
                ctypes.c_void_p,
                _abi.VOID_CALLBACK,
                _abi.CANCEL_P,
                ctypes.POINTER(ctypes.c_int),
                _abi.ERROR_P,
            ],
            RELEASE_GIL,
        ),
        "bw_time_limiter_metrics": (
            ctypes.c_int32,
            [_abi.TIME_LIMITER_P, ctypes.POINTER(_abi.bw_time_limiter_stats), _abi.ERROR_P],
            KEEP_GIL,
        ),
        "bw_time_limiter_free": (None, [_abi.TIME_LIMITER_P], RELEASE_GIL),
    }
)


class CallCancel:
    """The flag a limited callable can poll: ``cancelled()`` is ``True`` once its call
    was abandoned (deadline) or cancelled."""

    __slots__ = ("_ptr",)

    def __init__(self, ptr: Any) -> None:
        self._ptr = ptr

    def cancelled(self) -> bool:
        out = ctypes.c_bool()
        call(lib.bw_cancel_is_cancelled, self._ptr, ctypes.byref(out))
        return out.value



def _run(key: int, cancel: Any) -> int:
    job = JOBS.take(key)
    if job is not None:
        fn = job.fn
        flag = CallCancel(cancel)
        job.fn = lambda: fn(flag)
        job.run()
    return 0


def _release(key: int) -> None:
    JOBS.discard([key])  # never ran (rejected): drop it


_TRAMPOLINE = _abi.LIMITED_CALLBACK(_run)
_RELEASE = _abi.VOID_CALLBACK(_release)


@dataclass(frozen=True)
class TimeLimiterMetrics:
    """A snapshot of a time limiter's counters."""

    timed_out: int
    late_results_dropped: int
    rejected: int
    busy: int
    threads_spawned: int


class TimeLimiter:
    """Runs calls on a bounded set of library threads, with a time limit.

    >>> from breakwater import TimeLimiter
    >>> limiter = TimeLimiter(timeout=5.0, max_threads=2)
    >>> limiter.call(lambda: 42)
    42
    """

    def __init__(
        self,
        timeout: Seconds = 1.0,
        max_threads: int = 8,
        *,
        name: str = "",
        clock: Optional[Clock] = None,
    ) -> None:
        timeout_ns = to_nanos(timeout, "timeout")
        if timeout_ns <= 0:
            raise ValueError("timeout must be greater than 0")
        if not isinstance(max_threads, int) or isinstance(max_threads, bool):
            raise TypeError(f"max_threads must be an int, not {type(max_threads).__name__}")
        if not 1 <= max_threads < 2**32:
            raise ValueError(f"max_threads must be between 1 and 2**32 - 1, got {max_threads}")
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        timeout_ms = timeout_ns // 1_000_000 if timeout_ns % 1_000_000 == 0 else timeout_ns / 1e6
        text = json.dumps({"name": name, "timeout_ms": timeout_ms, "max_threads": max_threads}).encode()
        ptr = _abi.TIME_LIMITER_P()
        call(lib.bw_time_limiter_new_json, text, len(text), clock._pointer() if clock else None, ctypes.byref(ptr))
        self._h = Handle(self, ptr, lib.bw_time_limiter_free, errors.Policy.TIME_LIMITER.label)

    def call(
        self,
        fn: Callable[..., T],
        *args: Any,
        cancel: Optional[CancelToken] = None,
        pass_cancel: bool = False,
        **kwargs: Any,
    ) -> T:
        """Runs ``fn(*args, **kwargs)`` (with ``pass_cancel=True``: ``fn(flag, *args,
        **kwargs)``, ``flag.cancelled()`` telling when to stop) on a limiter thread and
        returns its value, or re-raises its exception unchanged.

        Raises :class:`~breakwater.errors.TimeoutError` at the time limit,
        :class:`~breakwater.errors.QueueFullError` when every limiter thread is taken,
        :class:`~breakwater.errors.CancelledError` when ``cancel`` fires."""
        if not callable(fn):
            raise TypeError(f"fn must be callable, not {type(fn).__name__}")
        if pass_cancel:
            job = Job(lambda flag: fn(flag, *args, **kwargs))  # type: ignore[misc, arg-type]
        else:
            job = Job(lambda flag: fn(*args, **kwargs))  # type: ignore[misc, arg-type]
        key = JOBS.add(job)
        out = ctypes.c_int()
        if cancel is None and threading.current_thread() is threading.main_thread():
            # Ctrl-C arrives on the main thread only: wait there in slices of at most
            # 100 ms while a helper thread makes the (GIL-releasing) blocking call, and
            # cancel the call if the wait is interrupted.
            self._call_interruptibly(key, out)
        else:
            call(
                lib.bw_time_limiter_call,
                self._h.get(),
                _TRAMPOLINE,
                key,
                _RELEASE,
                cancel._pointer() if cancel is not None else None,
                ctypes.byref(out),
            )
        return job.outcome()  # type: ignore[no-any-return]

    def _call_interruptibly(self, key: int, out: "ctypes.c_int") -> None:
        token = CancelToken()
        done = threading.Event()
        failure: list[BaseException] = []

        def blocking_call() -> None:
            try:
                call(
                    lib.bw_time_limiter_call,
                    self._h.get(),
                    _TRAMPOLINE,
                    key,
                    _RELEASE,
                    token._pointer(),
                    ctypes.byref(out),
                )
            except BaseException as e:  # carried to the caller's thread
                failure.append(e)
            finally:
                done.set()

        waiter = threading.Thread(target=blocking_call, name="breakwater-time-limit-wait", daemon=True)
        waiter.start()
        try:
            while not done.wait(0.1):
                pass
        except BaseException:
            token.cancel()  # the library returns at once; the abandoned call sees its flag
            done.wait()
            raise
        finally:
            waiter.join()
        if failure:
            raise failure[0]

    def __call__(self, fn: Callable[..., T]) -> Callable[..., T]:
        """As a decorator: every call of ``fn`` goes through :meth:`call`."""
        import functools

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            return self.call(fn, *args, **kwargs)

        return wrapper

    @property
    def metrics(self) -> TimeLimiterMetrics:
        """A snapshot of the counters."""
        m = _abi.bw_time_limiter_stats()
        m.size = ctypes.sizeof(m)
        call(lib.bw_time_limiter_metrics, self._h.get(), ctypes.byref(m))
        return TimeLimiterMetrics(m.timed_out, m.late_results_dropped, m.rejected, m.busy, m.threads_spawned)

    def close(self) -> None:
        """Makes later calls raise ``ValueError``. Idempotent. (The threads go when the
        object is garbage-collected.)"""
        self._h.close()

    def __enter__(self) -> "TimeLimiter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
