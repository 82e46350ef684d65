"""Cancellation tokens for blocking calls."""

from __future__ import annotations

import ctypes

from . import _abi
from ._handle import Handle
from ._lib import call, lib


class CancelToken:
    """A cancellation flag: blocking calls given this token give up with
    :class:`~breakwater.errors.CancelledError` once it is cancelled (from any thread).
    Once cancelled it stays cancelled.

    >>> from breakwater import CancelToken
    >>> token = CancelToken()
    >>> token.cancelled
    False
    >>> token.cancel()
    >>> token.cancelled
    True
    """

    def __init__(self) -> None:
        ptr = _abi.CANCEL_P()
        call(lib.bw_cancel_new, ctypes.byref(ptr))
        self._h = Handle(self, ptr, lib.bw_cancel_free, "cancel token")

    def cancel(self) -> None:
        """Cancels. Idempotent, thread-safe, does not block."""
        call(lib.bw_cancel_cancel, self._h.get())

    @property
    def cancelled(self) -> bool:
        """``True`` once :meth:`cancel` was called."""
        out = ctypes.c_bool()
        call(lib.bw_cancel_is_cancelled, self._h.get(), ctypes.byref(out))
        return out.value

    @property
    def closed(self) -> bool:
        """``True`` after :meth:`close`."""
        return self._h.closed

    def close(self) -> None:
        """Releases the token; later calls raise ``ValueError``. Idempotent."""
        self._h.close()

    def __enter__(self) -> "CancelToken":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pointer(self) -> "ctypes._Pointer[_abi.bw_cancel]":
        """The C pointer, for blocking calls."""
        return self._h.get()

    def __repr__(self) -> str:
        if self.closed:
            return "CancelToken(closed)"
        return f"CancelToken(cancelled={self.cancelled})"
