"""The binding keeps no copy of what the library describes: names of policies, reasons,
states and transition reasons (``bw_*_name``), the breaker's defaults
(``bw_breaker_config_defaults_json``) and its messages. These tests read the package's
source and fail when such a table creeps back in."""

from __future__ import annotations

import ast
from pathlib import Path

from breakwater import _lib

PACKAGE = Path(__file__).resolve().parents[2] / "bindings" / "python" / "breakwater"


def _constants() -> list[tuple[str, int, object]]:
    """Every constant of the package's code that is not a docstring: (file, line, value)."""
    out = []
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text())
        docstrings = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body
                if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                    docstrings.add(id(body[0].value))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and id(node) not in docstrings:
                out.append((path.name, node.lineno, node.value))
    return out


def _library_names() -> set[str]:
    lib = _lib.lib
    found = set()
    for f in (lib.bw_policy_name, lib.bw_reason_name, lib.bw_state_name, lib.bw_transition_reason_name):
        found.update(name for _, name in _lib.names(f))
    return found


def test_no_name_table():
    # The names that only a table would hold (several words, or a hyphen); one-word
    # names such as "retry" or "open" are ordinary identifiers too.
    distinctive = {n for n in _library_names() if " " in n or "-" in n}
    assert "half-open trial full" in distinctive and "circuit breaker" in distinctive
    found = [(f, line, v) for f, line, v in _constants() if isinstance(v, str) and v in distinctive]
    assert not found, f"names the library provides (bw_*_name): {found}"


def test_no_breaker_defaults_or_messages():
    constants = _constants()
    breaker = [(line, v) for f, line, v in constants if f == "breaker.py"]
    # The defaults: 5 consecutive failures, a window of the last 100 outcomes, 100
    # minimum calls, 60 s open (bw_breaker_config_defaults_json).
    for value in (100, 60, 60_000, 60.0):
        assert value not in [v for _, v in breaker if type(v) in (int, float)], value
    messages = [
        (f, line, v)
        for f, line, v in constants
        if isinstance(v, str) and ("rejected the call" in v or "configuration:" in v)
    ]
    assert not messages, f"messages the library provides: {messages}"
