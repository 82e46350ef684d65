"""Builds the breakwater Rust library into the package with setuptools-rust.

Everything declarative is in pyproject.toml; this file only says which Rust library to
build and how the wheel is named:

* ``RustExtension(binding=NoBinding)`` runs ``cargo`` on the repository's Cargo.toml
  (two folders up: build from a checkout with ``pip install ./bindings/python`` or
  ``pip wheel ./bindings/python``) with the ``redis`` feature (the shared breaker and
  rate limiter; the default features stay on) and copies the cdylib into ``breakwater/``;
* the file keeps its plain name ``libbreakwater.so`` (``.dylib`` on macOS), since it is
  loaded with ctypes, not imported as a Python extension module;
* the wheel is tagged ``py3-none-<platform>``: the library uses no Python API, so one
  wheel serves every Python 3 on that platform, but never another platform.
"""

import os
import sys

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools_rust import Binding, RustExtension
from setuptools_rust.build import build_rust

HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST = os.path.join(HERE, "..", "..", "Cargo.toml")


def _library_file() -> str:
    if sys.platform == "darwin":
        return "libbreakwater.dylib"
    if sys.platform == "win32":
        return "breakwater.dll"
    return "libbreakwater.so"


class BuildLibrary(build_rust):
    """Installs the cdylib under its own name instead of an extension-module name."""

    def get_dylib_ext_path(self, ext, target_fname):  # noqa: D102 (setuptools-rust hook)
        path = super().get_dylib_ext_path(ext, target_fname)
        return os.path.join(os.path.dirname(path), _library_file())


class PlatformWheel(bdist_wheel):
    """Tags the wheel for any Python 3 on this platform (``py3-none-linux_x86_64``)."""

    def finalize_options(self):  # noqa: D102
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):  # noqa: D102
        _, _, platform = super().get_tag()
        return "py3", "none", platform


if not os.path.isfile(MANIFEST):
    sys.exit(
        "breakwater-resilience builds from a checkout of the breakwater repository "
        f"(no {os.path.normpath(MANIFEST)}): run `pip install ./bindings/python` there, "
        "or install a built wheel"
    )

setup(
    rust_extensions=[
        RustExtension(
            "breakwater.libbreakwater",
            path=MANIFEST,
            binding=Binding.NoBinding,
            features=["redis"],
            debug=False,
        )
    ],
    cmdclass={"build_rust": BuildLibrary, "bdist_wheel": PlatformWheel},
)
