"""Composition: :class:`Pipeline` and the :func:`resilient` decorator run a Python
callable through Python-side policy objects, outermost first, and :class:`Fallback`
turns chosen exceptions into a value.

A stage is any object with one of these protocols (checked in this order):

* ``guard(fn)``: runs ``fn()`` its own way (:class:`Fallback`, custom stages);
* ``call(fn)``: ``Retry.call``, :class:`~breakwater.TimeLimiter` (``fn`` runs on a
  limiter thread, so the inner stages run there too);
* ``acquire()`` returning a permit with ``success()`` / ``failure()`` / ``ignore()``
  (``CircuitBreaker``): an exception is a failure, except a rejection by an inner stage
  (:class:`~breakwater.errors.RejectedError`), which is ignored;
* ``try_acquire()`` (``RateLimiter``): a falsy answer raises
  :class:`~breakwater.errors.RateLimitedError`;
* a context manager (``Bulkhead``): the call runs inside ``with stage:``.

Exceptions raised by the callable go through the stages and reach the caller
unchanged.

The cache is not offered here: the Rust cache stores Rust values, and Python objects
cannot live in it without copying them to bytes; caching stays a Rust/C feature (a
``functools.lru_cache`` or a dict is the Python tool).

The C pipeline (``bw_pipeline_*``, declared below for completeness) runs C callbacks;
Python code uses this module instead, so that guarded Python code runs in Python.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any, Callable, Optional, TypeVar, Union

from . import _abi, errors
from ._lib import KEEP_GIL, RELEASE_GIL, declare, lib

T = TypeVar("T")

declare(
    {
        "bw_pipeline_builder_new": (
            ctypes.c_int32,
            [_abi.CLOCK_P, ctypes.POINTER(_abi.PIPELINE_BUILDER_P), _abi.ERROR_P],
            KEEP_GIL,
        ),
        "bw_pipeline_builder_add_deadline": (
            ctypes.c_int32,
            [_abi.PIPELINE_BUILDER_P, ctypes.c_uint64, _abi.ERROR_P],
            KEEP_GIL,
        ),
        "bw_pipeline_builder_add_time_limiter": (
            ctypes.c_int32,
            [_abi.PIPELINE_BUILDER_P, _abi.TIME_LIMITER_P, _abi.ERROR_P],
            KEEP_GIL,
        ),
        # Stages over other policies' handles: the Python Pipeline composes the policy
        # objects in Python instead; declared so that the whole header is covered.
        "bw_pipeline_builder_add_breaker": (
            ctypes.c_int32,
            [_abi.PIPELINE_BUILDER_P, ctypes.c_void_p, _abi.ERROR_P],
            KEEP_GIL,
        ),
        "bw_pipeline_builder_add_retry": (
            ctypes.c_int32,
            [_abi.PIPELINE_BUILDER_P, ctypes.c_void_p, _abi.ERROR_P],
            KEEP_GIL,
        ),
        "bw_pipeline_builder_add_bulkhead": (
            ctypes.c_int32,
            [_abi.PIPELINE_BUILDER_P, ctypes.c_void_p, _abi.ERROR_P],
            KEEP_GIL,
        ),
        "bw_pipeline_builder_add_limiter": (
            ctypes.c_int32,
            [_abi.PIPELINE_BUILDER_P, ctypes.c_void_p, ctypes.c_uint64, _abi.ERROR_P],
            KEEP_GIL,
        ),
        "bw_pipeline_builder_add_fallback": (
            ctypes.c_int32,
            [_abi.PIPELINE_BUILDER_P, ctypes.c_int, ctypes.c_uint32, _abi.ERROR_P],
            KEEP_GIL,
        ),
        "bw_pipeline_builder_build": (
            ctypes.c_int32,
            [_abi.PIPELINE_BUILDER_P, ctypes.POINTER(_abi.PIPELINE_P), _abi.ERROR_P],
            KEEP_GIL,
        ),
        "bw_pipeline_builder_free": (None, [_abi.PIPELINE_BUILDER_P], RELEASE_GIL),
        "bw_pipeline_call": (
            ctypes.c_int32,
            [
                _abi.PIPELINE_P,
                _abi.PIPELINE_CALLBACK,
                ctypes.c_void_p,
                _abi.VOID_CALLBACK,
                _abi.CANCEL_P,
                ctypes.POINTER(ctypes.c_int),
                _abi.ERROR_P,
            ],
            RELEASE_GIL,
        ),
        "bw_pipeline_free": (None, [_abi.PIPELINE_P], RELEASE_GIL),
    }
)


class Fallback:
    """Answers the exceptions of types ``on`` with ``answer``: a value, or, when it is
    callable, ``answer(exception)``'s result. Other exceptions pass unchanged.

    >>> from breakwater import Fallback
    >>> Fallback("temporary unavailable", on=(ConnectionError,)).guard(lambda: 1 / 0)
    Traceback (most recent call last):
    ...
    ZeroDivisionError: division by zero
    >>> def down(): raise ConnectionError("authors is down")
    >>> Fallback("temporary unavailable", on=(ConnectionError,)).guard(down)
    'temporary unavailable'
    """

    def __init__(
        self,
        answer: Union[Any, Callable[[BaseException], Any]],
        on: Union[type[BaseException], tuple[type[BaseException], ...]] = (Exception,),
    ) -> None:
        types = on if isinstance(on, tuple) else (on,)
        if not types or not all(isinstance(t, type) and issubclass(t, BaseException) for t in types):
            raise TypeError("on must be an exception type or a non-empty tuple of them")
        self.answer = answer
        self.on = types
        self.used = 0

    def guard(self, fn: Callable[[], T]) -> T:
        """Runs ``fn()``; a selected exception is answered."""
        try:
            return fn()
        except self.on as e:
            self.used += 1
            if callable(self.answer):
                return self.answer(e)  # type: ignore[no-any-return]
            return self.answer  # type: ignore[no-any-return]


def _wrap(stage: Any, inner: Callable[[], Any]) -> Callable[[], Any]:
    """The callable that runs ``inner`` through ``stage``."""
    if hasattr(stage, "guard"):
        return lambda: stage.guard(inner)
    if hasattr(stage, "call"):
        return lambda: stage.call(inner)
    if hasattr(stage, "acquire"):

        def breaker() -> Any:
            permit = stage.acquire()
            try:
                result = inner()
            except errors.RejectedError:
                permit.ignore()
                raise
            except BaseException:
                permit.failure()
                raise
            permit.success()
            return result

        return breaker
    if hasattr(stage, "try_acquire"):

        def limited() -> Any:
            if stage.try_acquire() is False:
                raise errors.RateLimitedError(
                    lib.bw_rejection_message(errors.Policy.RATE_LIMITER, errors.Reason.RATE_LIMITED).decode(),
                    status=_abi.REJECTED,
                    policy=errors.Policy.RATE_LIMITER,
                    reason=errors.Reason.RATE_LIMITED,
                )
            return inner()

        return limited
    if hasattr(stage, "__enter__") and hasattr(stage, "__exit__"):

        def managed() -> Any:
            with stage:
                return inner()

        return managed
    raise TypeError(
        f"{type(stage).__name__} is not a pipeline stage (needs guard(), call(), acquire(), "
        "try_acquire() or to be a context manager)"
    )


class Pipeline:
    """Policy objects composed around a call, outermost first.

    >>> from breakwater import Fallback, Pipeline
    >>> p = Pipeline(Fallback(0, on=ZeroDivisionError))
    >>> p.call(lambda: 1 / 0)
    0
    """

    def __init__(self, *stages: Any) -> None:
        for stage in stages:
            _wrap(stage, lambda: None)  # TypeError now, not at the first call
        self.stages = stages

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Runs ``fn(*args, **kwargs)`` through every stage."""
        if not callable(fn):
            raise TypeError(f"fn must be callable, not {type(fn).__name__}")
        run: Callable[[], Any] = lambda: fn(*args, **kwargs)  # noqa: E731
        for stage in reversed(self.stages):
            run = _wrap(stage, run)
        return run()  # type: ignore[no-any-return]

    def __call__(self, fn: Callable[..., T]) -> Callable[..., T]:
        """As a decorator."""

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            return self.call(fn, *args, **kwargs)

        return wrapper


def resilient(*stages: Any) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorator: every call of the function goes through ``Pipeline(*stages)``.

    >>> from breakwater import Fallback, resilient
    >>> @resilient(Fallback("cached", on=KeyError))
    ... def lookup(key): return {}[key]
    >>> lookup("x")
    'cached'
    """
    return Pipeline(*stages)


