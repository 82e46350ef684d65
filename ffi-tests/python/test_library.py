"""Loading the library: where it is found, version checks, and the declarations
matching the header."""

import ctypes
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import breakwater
from breakwater import _abi, _lib

ROOT = Path(__file__).resolve().parents[2]
HEADER = (ROOT / "include" / "breakwater.h").read_text()


def cargo_version() -> str:
    text = (ROOT / "Cargo.toml").read_text()
    return re.search(r'^version = "([^"]+)"', text, re.M).group(1)


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "BREAKWATER_LIB"}
    full_env.update(env)
    full_env.setdefault("PYTHONPATH", str(ROOT / "bindings" / "python"))
    return subprocess.run(
        [sys.executable, "-c", code], env=full_env, capture_output=True, text=True, timeout=60
    )


def test_versions_agree_everywhere():
    pyproject = (ROOT / "bindings" / "python" / "pyproject.toml").read_text()
    pyproject_version = re.search(r'^version = "([^"]+)"', pyproject, re.M).group(1)
    assert breakwater.__version__ == cargo_version() == pyproject_version
    assert breakwater.version() == breakwater.__version__


def test_abi_version_matches():
    assert _lib.lib.bw_abi_version() == _abi.ABI_VERSION == 2


def test_every_header_constant_is_mirrored():
    defines = dict(re.findall(r"^#define (BW_\w+) (\d+)$", HEADER, re.M))
    assert len(defines) >= 30
    for name, value in defines.items():
        attr = name[len("BW_"):]
        assert getattr(_abi, attr, None) == int(value), f"_abi.{attr} should be {value}"


def test_every_header_function_is_declared():
    functions = set(re.findall(r"^[\w ]+?\**(bw_\w+)\(", HEADER, re.M))
    assert "bw_clock_now_ns" in functions
    assert functions == set(_lib._FUNCTIONS), "add the new functions to _lib._FUNCTIONS"


def test_gil_keeping_functions_come_from_the_pydll_handle():
    for name, (_, _, keep_gil) in _lib._FUNCTIONS.items():
        f = getattr(_lib.lib, name)
        keeps = bool(f._flags_ & ctypes._FUNCFLAG_PYTHONAPI)
        assert keeps == keep_gil, name


def test_undeclared_functions_are_an_attribute_error():
    with pytest.raises(AttributeError, match="not declared"):
        _lib.lib.bw_nothing_like_this


def test_error_object_layout():
    assert ctypes.sizeof(_abi.bw_error) == 1056
    assert _abi.bw_error.status.offset == 0
    assert _abi.bw_error.policy.offset == 4
    assert _abi.bw_error.reason.offset == 8
    assert _abi.bw_error.has_retry_after.offset == 12
    assert _abi.bw_error.retry_after_ns.offset == 16
    assert _abi.bw_error.message_len.offset == 24
    assert _abi.bw_error.message.offset == 32


def test_status_names():
    expected = {
        0: "BW_OK",
        1: "BW_REJECTED",
        2: "BW_TIMED_OUT",
        3: "BW_FAILED",
        4: "BW_INVALID_ARGUMENT",
        5: "BW_INVALID_CONFIG",
        6: "BW_PANIC",
        7: "BW_STALE",
        8: "BW_CANCELLED",
        9: "BW_SHUTDOWN",
        10: "BW_BUFFER_TOO_SMALL",
    }
    for code, name in expected.items():
        assert breakwater.status_name(code) == name
        assert getattr(_abi, name[3:]) == code
    for unknown in (-1, 11, 2**31 - 1, -(2**31), 2**40, -(2**40)):
        assert breakwater.status_name(unknown) == "BW_UNKNOWN"


@pytest.mark.parametrize("bad", ["1", 1.0, None, True])
def test_status_name_refuses_non_integers(bad):
    with pytest.raises(TypeError, match="status must be an int"):
        breakwater.status_name(bad)


def test_library_is_found_in_the_cargo_target_folder():
    candidates = _lib.candidates()
    names = [str(p) for p in candidates]
    assert names[0].endswith(str(Path("breakwater") / "libbreakwater.so"))
    release = names.index(str(ROOT / "target" / "release" / "libbreakwater.so"))
    debug = names.index(str(ROOT / "target" / "debug" / "libbreakwater.so"))
    assert release < debug
    assert Path(breakwater.library_path).is_file()


def test_breakwater_lib_selects_the_library():
    lib = str(Path(breakwater.library_path).resolve())
    r = run_python("import breakwater; print(breakwater.library_path)", BREAKWATER_LIB=lib)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == lib


def test_a_missing_breakwater_lib_is_an_import_error():
    r = run_python("import breakwater", BREAKWATER_LIB="/nonexistent/libbreakwater.so")
    assert r.returncode != 0
    assert "ImportError: BREAKWATER_LIB=/nonexistent/libbreakwater.so is not a file" in r.stderr


def test_a_library_of_another_version_is_refused(tmp_path):
    package = tmp_path / "breakwater"
    shutil.copytree(ROOT / "bindings" / "python" / "breakwater", package)
    (package / "_version.py").write_text('__version__ = "9.9.9"\n')
    r = run_python(
        "import breakwater",
        PYTHONPATH=str(tmp_path),
        BREAKWATER_LIB=str(Path(breakwater.library_path).resolve()),
    )
    assert r.returncode != 0
    assert f"is breakwater {breakwater.__version__}, but the Python package is 9.9.9" in r.stderr


def test_the_library_next_to_the_package_comes_first(tmp_path):
    package = tmp_path / "breakwater"
    shutil.copytree(ROOT / "bindings" / "python" / "breakwater", package)
    shutil.copy(breakwater.library_path, package / "libbreakwater.so")
    r = run_python("import breakwater; print(breakwater.library_path)", PYTHONPATH=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(package / "libbreakwater.so")
