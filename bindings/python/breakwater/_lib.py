"""Finds and loads the breakwater library, checks its version, and declares every C
function with its argument and result types.

Two handles on the same library:

* ``CDLL`` (releases the GIL during the call) for anything that can wait, or can wait
  on a thread that runs Python;
* ``PyDLL`` (keeps the GIL) for short non-blocking calls, which then cannot race with a
  ``close()`` from another Python thread.

Adding a C function is one line in ``_FUNCTIONS``: ``name: (restype, argtypes, KEEP_GIL
or RELEASE_GIL)``; fallible functions end with ``ERROR_P`` and are called through
:func:`call`, which raises the matching exception.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from ctypes import POINTER, c_bool, c_char_p, c_int32, c_size_t, c_uint32, c_uint64
from pathlib import Path
from typing import Any, Callable

from . import _abi
from ._abi import CANCEL_P, CLOCK_P, ERROR_P
from ._version import __version__

KEEP_GIL = True
RELEASE_GIL = False

# name: (restype, argtypes, keeps the GIL?)
_FUNCTIONS: dict[str, tuple[Any, list[Any], bool]] = {
    # versions and names
    "bw_version": (c_char_p, [], KEEP_GIL),
    "bw_abi_version": (c_uint32, [], KEEP_GIL),
    "bw_status_name": (c_char_p, [c_int32], KEEP_GIL),
    "bw_policy_name": (c_char_p, [c_uint32], KEEP_GIL),
    "bw_reason_name": (c_char_p, [c_uint32], KEEP_GIL),
    "bw_state_name": (c_char_p, [c_uint32], KEEP_GIL),
    "bw_transition_reason_name": (c_char_p, [c_uint32], KEEP_GIL),
    "bw_call_kind_name": (c_char_p, [c_uint32], KEEP_GIL),
    "bw_rejection_message": (c_char_p, [c_uint32, c_uint32], KEEP_GIL),
    **{
        f"bw_{policy}_config_{what}_json": (c_char_p, [], KEEP_GIL)
        for policy in ("breaker", "retry", "bulkhead", "limiter", "pool", "time_limiter")
        for what in ("defaults", "schema")
    },
    # log records (bw_set_log_handler swaps a pointer under a short lock: no wait on a
    # handler running on another thread)
    "bw_set_log_handler": (
        c_int32,
        [_abi.LOG_HANDLER, c_uint32, ctypes.c_void_p, ERROR_P],
        KEEP_GIL,
    ),
    "bw_log_level_name": (c_char_p, [c_uint32], KEEP_GIL),
    "bw_health_status_name": (c_char_p, [c_uint32], KEEP_GIL),
    "bw_last_error_message": (
        c_int32,
        [POINTER(ctypes.c_char), c_size_t, POINTER(c_size_t)],
        KEEP_GIL,
    ),
    # clocks
    "bw_clock_new": (c_int32, [c_uint32, POINTER(CLOCK_P), ERROR_P], KEEP_GIL),
    "bw_clock_monotonic_new": (c_int32, [POINTER(CLOCK_P), ERROR_P], KEEP_GIL),
    "bw_clock_manual_new": (c_int32, [POINTER(CLOCK_P), ERROR_P], KEEP_GIL),
    "bw_clock_kind": (c_int32, [CLOCK_P, POINTER(c_uint32), ERROR_P], KEEP_GIL),
    "bw_clock_now_ns": (c_int32, [CLOCK_P, POINTER(c_uint64), ERROR_P], KEEP_GIL),
    # Advancing wakes waiters (they take the GIL back only after the call returns).
    "bw_clock_advance_ns": (c_int32, [CLOCK_P, c_uint64, ERROR_P], KEEP_GIL),
    "bw_clock_free": (None, [CLOCK_P], KEEP_GIL),
    # cancellation
    "bw_cancel_new": (c_int32, [POINTER(CANCEL_P), ERROR_P], KEEP_GIL),
    "bw_cancel_cancel": (c_int32, [CANCEL_P, ERROR_P], KEEP_GIL),
    "bw_cancel_is_cancelled": (c_int32, [CANCEL_P, POINTER(c_bool), ERROR_P], KEEP_GIL),
    "bw_cancel_free": (None, [CANCEL_P], KEEP_GIL),
}


def _library_name() -> str:
    if sys.platform == "darwin":
        return "libbreakwater.dylib"
    if sys.platform == "win32":
        return "breakwater.dll"
    return "libbreakwater.so"


def _checkout_root(package_dir: Path) -> Path | None:
    """The repository root when the package is used from a source checkout (the package
    folder is ``bindings/python/breakwater`` next to the crate's ``Cargo.toml``), else
    ``None``: an installed package has no cargo target folder to look in."""
    root = package_dir.parent.parent.parent
    if (package_dir.parent / "setup.py").is_file() and (root / "Cargo.toml").is_file():
        return root
    return None


def candidates() -> list[Path]:
    """Where the library is looked for, in order: the package folder (where the wheel
    puts it), then, in a source checkout only, the cargo target folders
    (``$CARGO_TARGET_DIR``, then the repository's ``target/``), release before debug.
    ``BREAKWATER_LIB``, when set, replaces the whole list."""
    name = _library_name()
    here = Path(__file__).resolve().parent
    found = [here / name]
    root = _checkout_root(here)
    if root is not None:
        targets = []
        if os.environ.get("CARGO_TARGET_DIR"):
            targets.append(Path(os.environ["CARGO_TARGET_DIR"]))
        targets.append(root / "target")
        for target in targets:
            found.append(target / "release" / name)
            found.append(target / "debug" / name)
    return found


def _find() -> Path:
    explicit = os.environ.get("BREAKWATER_LIB")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ImportError(
                f"BREAKWATER_LIB={explicit} is not a file: point it at libbreakwater "
                "(e.g. target/release/libbreakwater.so), or unset it to use the library "
                "inside the package"
            )
        return path
    tried = candidates()
    for path in tried:
        if path.is_file():
            return path
    listing = "\n".join(f"  {p}" for p in tried)
    raise ImportError(
        f"the breakwater library ({_library_name()}) was not found; tried:\n{listing}\n"
        "Install the package as a wheel (`pip install ./bindings/python` from the "
        "repository builds one with the library inside), or build the library with "
        "`cargo build --release` in a checkout, or set BREAKWATER_LIB to its path."
    )


class _Functions:
    """The declared C functions, as attributes (``lib.bw_clock_now_ns``)."""

    def __getattr__(self, name: str) -> Any:  # only reached for undeclared names
        raise AttributeError(f"{name} is not declared in breakwater._lib._FUNCTIONS")


# The loaded library: its path, then the CDLL and PyDLL handles (set by _load).
_DLLS: list[Any] = []


def _bind(functions: _Functions, table: dict[str, tuple[Any, list[Any], bool]]) -> None:
    path, released, kept = _DLLS
    for name, (restype, argtypes, keep_gil) in table.items():
        try:
            f = getattr(kept if keep_gil else released, name)
        except AttributeError as e:
            raise ImportError(f"{path} has no function {name}: an older library?") from e
        f.restype = restype
        f.argtypes = argtypes
        setattr(functions, name, f)


class _FastFunction(ctypes._CFuncPtr):  # type: ignore[misc,name-defined]
    """A GIL-keeping C function pointer with neither ``argtypes`` nor a ``restype``:
    ctypes converts no argument through a type, and reads the result as a C ``int``
    without looking a type up (a declared ``restype``, even ``c_int``, costs a search of
    ctypes' type table on every call)."""

    _flags_ = ctypes._FUNCFLAG_CDECL | ctypes._FUNCFLAG_PYTHONAPI  # type: ignore[attr-defined]


def fast_function(name: str) -> Any:
    """A second binding of the declared, GIL-keeping function ``name`` for a hot path:
    without ``argtypes`` or ``restype``, so ctypes converts nothing. Callers must pass
    only ctypes arrays (passed as pointers), ctypes pointers (``c_void_p``,
    ``byref()``), ``None`` for NULL, and Python ints for ``int``-sized integer
    parameters (enum codes): the conversion of typed arguments costs more than the
    foreign call itself. Returns the C ``int`` result (status or answer)."""
    if name not in _FUNCTIONS or not _FUNCTIONS[name][2]:
        raise ValueError(f"{name} is not a declared GIL-keeping function")
    return _FastFunction((name, _DLLS[2]))


def declare(table: dict[str, tuple[Any, list[Any], bool]]) -> None:
    """Declares more C functions on :data:`lib`, in the format of ``_FUNCTIONS``: a policy
    module registers its own functions at import (``_lib.declare({...})``)."""
    _bind(lib, table)
    _FUNCTIONS.update(table)


def _load() -> tuple[Path, _Functions]:
    path = _find()
    try:
        released = ctypes.CDLL(str(path))
        kept = ctypes.PyDLL(str(path))
    except OSError as e:
        raise ImportError(f"cannot load the breakwater library {path}: {e}") from e
    functions = _Functions()
    _DLLS[:] = [path, released, kept]
    _bind(functions, _FUNCTIONS)
    version = functions.bw_version().decode()
    if version != __version__:
        raise ImportError(
            f"{path} is breakwater {version}, but the Python package is {__version__}"
        )
    abi = functions.bw_abi_version()
    if abi != _abi.ABI_VERSION:
        raise ImportError(f"{path} has ABI version {abi}, the package needs {_abi.ABI_VERSION}")
    return path, functions


path, lib = _load()


_tls = threading.local()


def _error_object() -> _abi.bw_error:
    err = getattr(_tls, "err", None)
    if err is None:
        err = _tls.err = _abi.bw_error()
    return err


def call(func: Callable[..., int], *args: Any) -> None:
    """Calls a fallible C function with ``args`` and this thread's error object, and
    raises the matching :class:`~breakwater.errors.BreakwaterError` unless it returns
    ``BW_OK``."""
    err = _error_object()
    status = func(*args, ctypes.byref(err))
    if status != _abi.OK:
        raise errors.from_error(err)


def status_name(status: int) -> str:
    """``bw_status_name``: ``"BW_OK"``, ... or ``"BW_UNKNOWN"``."""
    if not isinstance(status, int) or isinstance(status, bool):
        raise TypeError(f"status must be an int, not {type(status).__name__}")
    if not -(2**31) <= status < 2**31:
        return "BW_UNKNOWN"
    return lib.bw_status_name(status).decode()


def last_error_message() -> str:
    """``bw_last_error_message``: the message of the last failed call on this thread."""
    length = c_size_t(0)
    status = lib.bw_last_error_message(None, 0, ctypes.byref(length))
    if status == _abi.OK:
        return ""
    buf = ctypes.create_string_buffer(length.value + 1)
    status = lib.bw_last_error_message(buf, len(buf), ctypes.byref(length))
    if status != _abi.OK:
        raise errors.error_class(status)(f"bw_last_error_message failed: {status}", status=status)
    return buf.value.decode("utf-8", errors="replace")


def names(func: Callable[[int], Any]) -> list[tuple[int, str]]:
    """The vocabulary of a ``bw_*_name`` function: ``(code, name)`` for the codes 0, 1,
    ... until the library answers NULL."""
    out = []
    code = 0
    while True:
        name = func(code)
        if name is None:
            return out
        out.append((code, name.decode()))
        code += 1


def static_json(func: Callable[[], Any]) -> Any:
    """The JSON of a ``bw_*_config_defaults_json`` / ``_schema_json`` function, parsed."""
    import json

    return json.loads(func().decode())


# Last: `errors` takes its vocabularies from the loaded library (it imports `lib` from
# this module, which is complete by now whichever of the two is imported first).
from . import errors  # noqa: E402
