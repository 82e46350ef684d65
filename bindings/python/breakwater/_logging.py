"""The library's log records in Python's :mod:`logging`.

The core writes its events (breaker transitions, rejections, retries) as log records
with a sentence of its own, ``"breaker authors: closed -> open (3 consecutive
failures)"``. On import of :mod:`breakwater`, this module installs one handler with
``bw_set_log_handler`` that hands each record to the standard logger named after the
record's target (``breakwater::breaker`` -> ``logging.getLogger("breakwater.breaker")``,
a child of the ``breakwater`` logger), at the matching level, with the core's sentence
as the message and the record's fields in ``extra={"breakwater": {...}}``: a service
that calls ``logging.basicConfig(level=logging.INFO)`` sees its breakers' transitions
with no other code (and a program that configures no logging sees nothing: the
``breakwater`` logger has a ``NullHandler``).

Which records the library produces: transitions (WARNING when a breaker opens, INFO
otherwise) always; per-call records (DEBUG: rejections, retries; TRACE below) only when
the ``breakwater`` logger, or one of its children, has such a level when the module is
imported or :func:`sync_log_level` is called. Records below the level of the logger
they go to are dropped here and never formatted.

The handler is called on the thread that caused the event, Python's or the library's
own (pool workers); it never lets an exception reach the library (one raised by a
logging handler or filter is reported through :data:`sys.unraisablehook`).
"""

from __future__ import annotations

import atexit
import ctypes
import json
import logging
import sys
import threading
import traceback
import types
from typing import Any, Optional

from . import _abi
from ._lib import call, lib, names

#: The Python level of each library level name (``bw_log_level_name``). ``"trace"``,
#: finer than DEBUG, is level 5 (Python has no name for it).
_PYTHON_LEVELS = {
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": 5,
}


def _level_table() -> dict[int, int]:
    table = {}
    for code, name in names(lib.bw_log_level_name):
        if code == _abi.LOG_OFF:
            continue
        if name not in _PYTHON_LEVELS:
            raise ImportError(f"the breakwater library has a log level {name!r} unknown here")
        table[code] = _PYTHON_LEVELS[name]
    return table


#: Library level code -> Python level.
_LEVELS = _level_table()
#: The library's level used whatever the loggers say: transitions are rare, and a
#: service that configures logging after importing breakwater still sees them.
_FLOOR = _abi.LOG_INFO
#: The root of the loggers the library's records go to.
ROOT_LOGGER = "breakwater"

_lock = threading.Lock()
_state: dict[str, Any] = {"level": _abi.LOG_OFF}


def _text(pointer: Optional[int], length: int) -> str:
    if not pointer or not length:
        return ""
    return ctypes.string_at(pointer, length).decode("utf-8", errors="replace")


def _report(exc: BaseException) -> None:
    """Reports ``exc``, raised while forwarding a record, the way Python reports an
    exception it cannot raise: through :data:`sys.unraisablehook` when a program or a
    test runner replaced it, otherwise on stderr as the default hook would."""
    message = "Exception ignored in the breakwater log handler"
    try:
        hook = sys.unraisablehook
        if hook is not sys.__unraisablehook__:
            hook(
                types.SimpleNamespace(
                    exc_type=type(exc),
                    exc_value=exc,
                    exc_traceback=exc.__traceback__,
                    err_msg=message,
                    object=None,
                )
            )
            return
        stream = sys.stderr
        if stream is not None:
            stream.write(f"{message}:\n")
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=stream)
    except BaseException:  # noqa: BLE001 (nothing may reach the library)
        pass


def _forward(record_p: Any, _user_data: Any) -> None:
    """The ``bw_set_log_handler`` handler: one library record to :mod:`logging`."""
    try:
        record = record_p.contents
        level = _LEVELS.get(record.level, logging.WARNING)
        target = _text(record.target, record.target_len) or ROOT_LOGGER
        logger = logging.getLogger(target.replace("::", "."))
        if not logger.isEnabledFor(level):
            return
        message = _text(record.message, record.message_len)
        raw = _text(record.fields_json, record.fields_json_len)
        fields = json.loads(raw) if raw else {}
        logger.log(level, message, extra={"breakwater": fields})
    except BaseException as e:  # noqa: BLE001 (nothing may reach the library)
        _report(e)


# The one C function object of the process: the library keeps its address, so it lives
# as long as the module (which the interpreter keeps until exit).
_HANDLER = _abi.LOG_HANDLER(_forward)


def _wanted_level() -> int:
    """The library level the loggers ask for: the finest effective level among the
    ``breakwater`` logger and its existing children, mapped to a library level code,
    and never coarser than :data:`_FLOOR`."""
    finest = logging.getLogger(ROOT_LOGGER).getEffectiveLevel()
    prefix = ROOT_LOGGER + "."
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if name.startswith(prefix) and isinstance(logger, logging.Logger):
            finest = min(finest, logger.getEffectiveLevel())
    code = _FLOOR
    for library_code, python_level in _LEVELS.items():
        if python_level >= finest:
            code = max(code, library_code)
    return code


def _set(level: int) -> None:
    handler = _HANDLER if level != _abi.LOG_OFF else _abi.LOG_HANDLER()  # NULL: off
    call(lib.bw_set_log_handler, handler, level, None)
    _state["level"] = level


def sync_log_level() -> str:
    """Makes the library produce the records the ``breakwater`` loggers want; returns the
    library's level name (``"info"``, ``"debug"``, ...).

    Call it after changing the level of the ``breakwater`` logger, of one of its
    children (``breakwater.breaker``, ...) or of the root logger, when records finer than
    INFO are wanted or no longer wanted: the library only writes its per-call records
    (DEBUG: rejections, retries) when asked to. Transitions (WARNING and INFO) are always
    handed over, and filtered by the loggers' levels.

    >>> import logging, breakwater
    >>> logging.getLogger("breakwater").setLevel(logging.DEBUG)
    >>> breakwater.sync_log_level()
    'debug'
    >>> logging.getLogger("breakwater").setLevel(logging.NOTSET)
    >>> breakwater.sync_log_level()
    'info'
    """
    with _lock:
        level = _wanted_level()
        _set(level)
    name = lib.bw_log_level_name(level)
    return str(name.decode())


def _install() -> None:
    """Installs the handler (import of :mod:`breakwater`) and removes it at exit, before
    the interpreter stops running Python code on other threads. As the logging HOWTO asks
    of a library, the ``breakwater`` logger gets a ``NullHandler``: a program that
    configures no logging prints nothing (rather than WARNING records through
    ``logging.lastResort``); one that does sees the records through its handlers."""
    logging.getLogger(ROOT_LOGGER).addHandler(logging.NullHandler())
    sync_log_level()
    atexit.register(_uninstall)


def _uninstall() -> None:
    with _lock:
        try:
            _set(_abi.LOG_OFF)
        except Exception:  # noqa: BLE001 (at exit: nothing more to do)
            pass
