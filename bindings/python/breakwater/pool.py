"""The thread-pool bulkhead: a named pool of library worker threads and a bounded
queue, one per dependency (payments keep their threads while email's are stuck).

Python callables run on the pool's worker threads (named ``"<name>-0"``, ...); ctypes
takes the GIL for them there. An exception raised by a task is kept and re-raised,
unchanged, by :meth:`Task.result`.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from typing import Any, Callable, Generic, Optional, TypeVar

from . import _abi, errors
from ._executor import JOBS, SLICE_NS, Job
from ._handle import Handle
from ._lib import KEEP_GIL, RELEASE_GIL, _error_object, call, declare, lib
from .cancel import CancelToken
from .clock import Clock, Seconds, to_nanos

T = TypeVar("T")

declare(
    {
        "bw_pool_new_json": (
            ctypes.c_int32,
            [ctypes.c_char_p, ctypes.c_size_t, _abi.CLOCK_P, ctypes.POINTER(_abi.POOL_P), _abi.ERROR_P],
            KEEP_GIL,
        ),
        "bw_pool_submit": (
            ctypes.c_int32,
            [_abi.POOL_P, _abi.VOID_CALLBACK, ctypes.c_void_p, ctypes.POINTER(_abi.TASK_P), _abi.ERROR_P],
            # May spawn a worker thread, which may then wait for the GIL to run a task.
            RELEASE_GIL,
        ),
        "bw_task_join": (
            ctypes.c_int32,
            [_abi.TASK_P, ctypes.c_uint64, _abi.CANCEL_P, _abi.ERROR_P],
            RELEASE_GIL,
        ),
        "bw_task_free": (None, [_abi.TASK_P], KEEP_GIL),
        "bw_pool_shutdown": (
            ctypes.c_int32,
            [_abi.POOL_P, ctypes.c_uint32, ctypes.c_uint64, ctypes.POINTER(_abi.bw_shutdown_report), _abi.ERROR_P],
            RELEASE_GIL,
        ),
        "bw_pool_metrics": (
            ctypes.c_int32,
            [_abi.POOL_P, ctypes.POINTER(_abi.bw_pool_stats), _abi.ERROR_P],
            KEEP_GIL,
        ),
        # Frees with a bounded wait for running tasks: releases the GIL.
        "bw_pool_free": (None, [_abi.POOL_P], RELEASE_GIL),
    }
)


def _run(key: int) -> None:
    job = JOBS.take(key)
    if job is not None:
        job.run()


_TRAMPOLINE = _abi.VOID_CALLBACK(_run)


@dataclass(frozen=True)
class ShutdownReport:
    """What :meth:`ThreadPool.shutdown` did and left."""

    mode: str
    terminated: bool
    cancelled: int
    still_queued: int
    busy_workers: int


@dataclass(frozen=True)
class PoolMetrics:
    """A snapshot of a pool's counters."""

    workers: int
    spawned: int
    busy: int
    queue_depth: int
    queue_capacity: int
    peak_queue: int
    rejected: int
    completed: int
    panicked: int
    cancelled: int


_MODES = {"drain": _abi.SHUTDOWN_DRAIN, "cancel": _abi.SHUTDOWN_CANCEL}


def _check_positive_int(value: object, name: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not minimum <= value < 2**32:
        raise ValueError(f"{name} must be between {minimum} and 2**32 - 1, got {value}")
    return value


class Task(Generic[T]):
    """A submitted task: :meth:`result` waits for its value."""

    def __init__(self, ptr: Any, job: Job, key: int) -> None:
        self._h = Handle(self, ptr, lib.bw_task_free, errors.Policy.THREAD_POOL.label)
        self._job = job
        self._key = key
        self._outcome: Optional[tuple[bool, Any]] = None

    @property
    def done(self) -> bool:
        """``True`` once the task has run (or was cancelled and joined)."""
        return self._job.done or self._outcome is not None

    def result(self, timeout: Optional[Seconds] = None, cancel: Optional[CancelToken] = None) -> T:
        """Waits for the task (at most ``timeout`` seconds; ``None``: forever) and returns
        its value, or raises its exception unchanged. Raises
        :class:`~breakwater.errors.TimeoutError` at the timeout (the task goes on; call
        again), :class:`~breakwater.errors.ShutdownError` if a shutdown cancelled it
        before it ran, :class:`~breakwater.errors.CancelledError` when ``cancel`` fires.
        Waits in slices of 100 ms with the GIL released, so Ctrl-C works."""
        if self._outcome is None:
            self._wait(timeout, cancel)
        ok, value = self._outcome  # type: ignore[misc]
        if ok:
            return value  # type: ignore[no-any-return]
        raise value

    def _wait(self, timeout: Optional[Seconds], cancel: Optional[CancelToken]) -> None:
        left = None if timeout is None else to_nanos(timeout, "timeout")
        cancel_p = cancel._pointer() if cancel is not None else None
        err = _error_object()
        while True:
            step = SLICE_NS if left is None else min(SLICE_NS, left)
            status = lib.bw_task_join(self._h.get(), step, cancel_p, ctypes.byref(err))
            if status == _abi.OK:
                try:
                    self._outcome = (True, self._job.outcome())
                except BaseException as e:  # noqa: BLE001 (the task's own exception)
                    self._outcome = (False, e)
                return
            if status == _abi.TIMED_OUT and (left is None or left > step):
                if left is not None:
                    left -= step
                continue
            error = errors.from_error(err)
            if status != _abi.TIMED_OUT and status != _abi.CANCELLED or err.reason == _abi.REASON_SHUTDOWN:
                JOBS.discard([self._key])
                self._outcome = (False, error)
                return
            raise error


class ThreadPool:
    """A thread-pool bulkhead.

    >>> from breakwater import ThreadPool
    >>> with ThreadPool("payments", workers=2, queue_capacity=10) as pool:
    ...     pool.submit(lambda: 6 * 7).result()
    42
    """

    def __init__(
        self,
        name: str = "",
        workers: int = 10,
        queue_capacity: int = 100,
        *,
        clock: Optional[Clock] = None,
    ) -> None:
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        _check_positive_int(workers, "workers", 1)
        _check_positive_int(queue_capacity, "queue_capacity", 0)
        import json

        text = json.dumps({"name": name, "workers": workers, "queue_capacity": queue_capacity}).encode()
        ptr = _abi.POOL_P()
        call(lib.bw_pool_new_json, text, len(text), clock._pointer() if clock else None, ctypes.byref(ptr))
        self._h = Handle(self, ptr, lib.bw_pool_free, errors.Policy.THREAD_POOL.label)
        self._keys: set[int] = set()
        self._lock = threading.Lock()
        self.name = name or "pool"

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Task[T]:
        """Queues ``fn(*args, **kwargs)`` on a worker; never waits. Raises
        :class:`~breakwater.errors.QueueFullError` when the pool is full and
        :class:`~breakwater.errors.ShutdownError` after a shutdown."""
        if not callable(fn):
            raise TypeError(f"fn must be callable, not {type(fn).__name__}")
        job = Job(lambda: fn(*args, **kwargs))
        key = JOBS.add(job)
        out = _abi.TASK_P()
        try:
            call(lib.bw_pool_submit, self._h.get(), _TRAMPOLINE, key, ctypes.byref(out))
        except BaseException:
            JOBS.discard([key])
            raise
        with self._lock:
            self._keys = {k for k in self._keys if not _finished(k)}
            self._keys.add(key)
        return Task(out, job, key)

    def shutdown(self, mode: str = "drain", timeout: Optional[Seconds] = None) -> ShutdownReport:
        """Stops accepting tasks; ``"drain"`` runs the queued ones, ``"cancel"`` cancels
        them; waits for the workers at most ``timeout`` seconds (``None``: until they
        exit), in slices of 100 ms."""
        if mode not in _MODES:
            raise ValueError(f"mode must be 'drain' or 'cancel', not {mode!r}")
        left = None if timeout is None else to_nanos(timeout, "timeout")
        report = _abi.bw_shutdown_report()
        while True:
            step = SLICE_NS if left is None else min(SLICE_NS, left)
            call(lib.bw_pool_shutdown, self._h.get(), _MODES[mode], step, ctypes.byref(report))
            if report.terminated or (left is not None and left <= step):
                break
            if left is not None:
                left -= step
        if report.terminated:
            with self._lock:
                JOBS.discard(self._keys)  # what never ran never will
                self._keys.clear()
        return ShutdownReport(
            mode="drain" if report.mode == _abi.SHUTDOWN_DRAIN else "cancel",
            terminated=report.terminated,
            cancelled=report.cancelled,
            still_queued=report.still_queued,
            busy_workers=report.busy_workers,
        )

    @property
    def metrics(self) -> PoolMetrics:
        """A snapshot of the counters."""
        m = _abi.bw_pool_stats()
        m.size = ctypes.sizeof(m)
        call(lib.bw_pool_metrics, self._h.get(), ctypes.byref(m))
        return PoolMetrics(
            m.workers, m.spawned, m.busy, m.queue_depth, m.queue_capacity, m.peak_queue,
            m.rejected, m.completed, m.panicked, m.cancelled,
        )

    def close(self) -> None:
        """Shuts down (cancelling queued tasks, waiting for running ones) and makes later
        calls raise ``ValueError``. Idempotent."""
        if not self._h.closed:
            self.shutdown("cancel")
            self._h.close()

    def __enter__(self) -> "ThreadPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _finished(key: int) -> bool:
    with JOBS._lock:
        return key not in JOBS._jobs
