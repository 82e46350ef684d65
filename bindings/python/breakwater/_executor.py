"""Shared machinery of the executors (thread pool, time limiter): running a Python
callable from a library worker thread through one ctypes trampoline, with its outcome
(value or exception) kept for the caller."""

from __future__ import annotations

import itertools
import threading
from typing import Any, Callable, Optional

SLICE_NS = 100_000_000  # waits are cut in slices of 100 ms so that Ctrl-C works


class Job:
    """A Python callable run by a library thread; keeps its value or exception."""

    __slots__ = ("fn", "done", "value", "exc")

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.done = False
        self.value: Any = None
        self.exc: Optional[BaseException] = None

    def run(self) -> None:
        try:
            self.value = self.fn()
        except BaseException as e:  # noqa: BLE001 (kept, re-raised in the caller)
            self.exc = e
        finally:
            self.done = True
            self.fn = None  # type: ignore[assignment]

    def outcome(self) -> Any:
        """The value, or raises the callable's exception unchanged."""
        if self.exc is not None:
            exc, self.exc = self.exc, None
            raise exc
        return self.value


class Registry:
    """Jobs by integer key (the C ``user_data``), alive while the library may call them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[int, Job] = {}
        self._keys = itertools.count(1)

    def add(self, job: Job) -> int:
        with self._lock:
            key = next(self._keys)
            self._jobs[key] = job
            return key

    def take(self, key: int) -> Optional[Job]:
        with self._lock:
            return self._jobs.pop(key, None)

    def discard(self, keys: "list[int] | set[int]") -> None:
        with self._lock:
            for key in keys:
                self._jobs.pop(key, None)


JOBS = Registry()
