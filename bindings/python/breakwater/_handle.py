"""Ownership of one C handle by a Python object."""

from __future__ import annotations

import weakref
from typing import Any, Callable


class Handle:
    """Owns one C handle on behalf of a Python object (its *owner*).

    The handle is freed when the owner is garbage-collected, never earlier: a call in
    progress on another thread holds a reference to the owner (``self``), so it can never
    see the handle freed under it, even while it has released the GIL. :meth:`close`
    only makes later calls raise ``ValueError``; owners whose handle holds resources
    (threads) release them in ``close`` through a C shutdown function, not through
    ``_free``.

    The finalizer does not run at interpreter exit (daemon threads may still be inside
    the library then); the memory goes back with the process.
    """

    __slots__ = ("_ptr", "_what", "_closed", "_word")

    def __init__(
        self,
        owner: object,
        ptr: Any,
        free: Callable[[Any], None],
        what: str,
        word: str = "closed",
    ) -> None:
        self._ptr = ptr
        self._what = what
        self._closed = False
        self._word = word
        finalizer = weakref.finalize(owner, free, ptr)
        finalizer.atexit = False

    @property
    def closed(self) -> bool:
        """``True`` once :meth:`close` was called."""
        return self._closed

    def get(self) -> Any:
        """The pointer. Raises ``ValueError`` if the handle is closed."""
        if self._closed:
            raise ValueError(f"{self._what} is {self._word}")
        return self._ptr

    def close(self) -> None:
        """Makes later calls raise ``ValueError``. Idempotent."""
        self._closed = True
