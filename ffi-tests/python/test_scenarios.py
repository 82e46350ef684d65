"""The Python runner of the behaviour scenarios (``ffi-tests/scenarios/*.json``, format in
its README): each policy is built with ``bw_<policy>_new_json`` on a manual clock and the
steps run through the C ABI, so that the Rust, C, Python and Go runners check the same
behaviour.

It uses the lowest stable layer: ``breakwater._lib`` finds and checks the library (its
``path``), and the runner calls the C functions by their ``bw_*`` names on its own ctypes
handle (the binding's own declarations are left alone). Numeric constants come from the
header ``include/breakwater.h``; names of states and reasons from the library
(``bw_state_name``, ``bw_reason_name``).

Run alone: ``python3 ffi-tests/python/test_scenarios.py`` (prints one line per scenario
and ``N passed, N failed``); under pytest, ``-s`` shows the lines.
"""

from __future__ import annotations

import ctypes
import json
import re
import sys
from ctypes import POINTER, byref, c_bool, c_char_p, c_double, c_int32, c_size_t, c_uint32, c_uint64
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "ffi-tests" / "scenarios"
if str(ROOT / "bindings" / "python") not in sys.path:
    sys.path.insert(0, str(ROOT / "bindings" / "python"))

from breakwater import _lib  # noqa: E402  (finds the library, checks its version)

# BW_* constants of the header (BW_OK, BW_STALE, BW_OUTCOME_FAILURE, ...).
BW: dict[str, int] = {
    m.group(1): int(m.group(2))
    for m in re.finditer(
        r"^#define BW_(\w+) (\d+)$",
        (ROOT / "include" / "breakwater.h").read_text(),
        re.MULTILINE,
    )
}


class Error(ctypes.Structure):
    _fields_ = [
        ("status", c_int32),
        ("policy", c_uint32),
        ("reason", c_uint32),
        ("has_retry_after", c_bool),
        ("retry_after_ns", c_uint64),
        ("message_len", c_size_t),
        ("message", ctypes.c_char * BW["ERROR_MESSAGE_LEN"]),
    ]


class Permit(ctypes.Structure):
    _fields_ = [("generation", c_uint64), ("acquired_ns", c_uint64)]


def _stats(name: str, fields: list[tuple[str, Any]]) -> type[ctypes.Structure]:
    return type(name, (ctypes.Structure,), {"_fields_": [("size", c_size_t), *fields]})


_U64 = c_uint64
BreakerStats = _stats(
    "BreakerStats",
    [("state", c_uint32), ("generation", _U64)]
    + [
        (f, _U64)
        for f in (
            "requests successes failures ignored slow consecutive_successes "
            "consecutive_failures window_calls window_failures"
        ).split()
    ]
    + [("failure_rate", c_double), ("slow_call_rate", c_double)]
    + [
        (f, _U64)
        for f in (
            "total_requests total_successes total_failures total_ignored total_slow "
            "rejected_open rejected_trial_full rejected_forced_open stale_dropped "
            "transitions opened events_dropped"
        ).split()
    ],
)
BulkheadStats = _stats(
    "BulkheadStats",
    [(f, _U64) for f in "max available in_use waiting rejected peak acquired".split()],
)
LimiterStats = _stats(
    "LimiterStats",
    [(f, _U64) for f in "permitted rejected waited available burst emission_interval_ns".split()],
)

P = ctypes.c_void_p
E = POINTER(Error)
_C = ctypes.CDLL(str(_lib.path))
for _name, _res, _args in [
    ("bw_status_name", c_char_p, [c_int32]),
    ("bw_reason_name", c_char_p, [c_uint32]),
    ("bw_state_name", c_char_p, [c_uint32]),
    ("bw_clock_manual_new", c_int32, [POINTER(P), E]),
    ("bw_clock_advance_ns", c_int32, [P, c_uint64, E]),
    ("bw_clock_free", None, [P]),
    ("bw_breaker_new_json", c_int32, [c_char_p, c_size_t, P, POINTER(P), E]),
    ("bw_breaker_try_acquire", c_int32, [P, POINTER(Permit), E]),
    ("bw_breaker_record", c_int32, [P, Permit, c_uint32, E]),
    ("bw_breaker_state", c_int32, [P, POINTER(c_uint32), E]),
    ("bw_breaker_reset", c_int32, [P, E]),
    ("bw_breaker_force_open", c_int32, [P, E]),
    ("bw_breaker_disable", c_int32, [P, E]),
    ("bw_breaker_metrics", c_int32, [P, POINTER(BreakerStats), E]),
    ("bw_breaker_free", None, [P]),
    ("bw_retry_new_json", c_int32, [c_char_p, c_size_t, P, POINTER(P), E]),
    ("bw_retry_delays_ns", c_int32, [P, POINTER(c_uint64), c_size_t, POINTER(c_size_t), E]),
    ("bw_retry_free", None, [P]),
    ("bw_bulkhead_new_json", c_int32, [c_char_p, c_size_t, P, POINTER(P), E]),
    ("bw_bulkhead_try_acquire", c_int32, [P, E]),
    ("bw_bulkhead_release", c_int32, [P, E]),
    ("bw_bulkhead_metrics", c_int32, [P, POINTER(BulkheadStats), E]),
    ("bw_bulkhead_free", None, [P]),
    ("bw_limiter_new_json", c_int32, [c_char_p, c_size_t, P, POINTER(P), E]),
    ("bw_limiter_try_acquire", c_int32, [P, c_uint32, POINTER(c_uint64), E]),
    ("bw_limiter_metrics", c_int32, [P, POINTER(LimiterStats), E]),
    ("bw_limiter_free", None, [P]),
]:
    _f = getattr(_C, _name)
    _f.restype, _f.argtypes = _res, _args


class StepFailed(Exception):
    """What differed in a step."""


def _text(p: bytes | None) -> str:
    return p.decode() if p is not None else "(unknown)"


def _ns(ms: float) -> int:
    return round(ms * 1e6)


def _check(status: int, e: Error, what: str) -> None:
    if status != BW["OK"]:
        raise StepFailed(f"{what}: {_text(_C.bw_status_name(status))}: {e.message.decode()}")


def _check_admission(step: dict[str, Any], status: int, e: Error) -> None:
    want = step.get("reject")
    if want is None:
        if status != BW["OK"]:
            raise StepFailed(
                f"expected admitted, got {_text(_C.bw_status_name(status))} ({e.message.decode()})"
            )
        return
    if status != BW["REJECTED"]:
        raise StepFailed(f"expected rejected ({want}), got {_text(_C.bw_status_name(status))}")
    reason = _text(_C.bw_reason_name(e.reason))
    if reason != want:
        raise StepFailed(f"expected rejection reason {want!r}, got {reason!r}")
    if "retry_after_ms" in step:
        got = e.retry_after_ns if e.has_retry_after else None
        if got != _ns(step["retry_after_ms"]):
            raise StepFailed(f"expected retry_after_ms {step['retry_after_ms']}, got {got} ns")


def _compare_metrics(step: dict[str, Any], stats: ctypes.Structure, rates: tuple[str, ...] = ()) -> None:
    known = {field[0] for field in stats._fields_} - {"size"}
    for key, want in step["metrics"].items():
        if key not in known:
            raise StepFailed(f"unknown metric {key!r}")
        got = getattr(stats, key)
        if key in rates:
            got = None if got < 0 else got
            ok = (want is None and got is None) or (
                want is not None and got is not None and abs(want - got) < 1e-9
            )
        else:
            ok = want == got
        if not ok:
            raise StepFailed(f"metric {key}: expected {json.dumps(want)}, got {got}")


def _metrics(fn: Callable[..., int], handle: Any, cls: type[ctypes.Structure]) -> ctypes.Structure:
    s = cls()
    s.size = ctypes.sizeof(cls)
    e = Error()
    _check(fn(handle, byref(s), byref(e)), e, fn.__name__)
    return s


def _advance(clock: Any, step: dict[str, Any]) -> None:
    e = Error()
    _check(_C.bw_clock_advance_ns(clock, _ns(step["ms"]), byref(e)), e, "bw_clock_advance_ns")


_OUTCOMES = {
    "success": BW["OUTCOME_SUCCESS"],
    "failure": BW["OUTCOME_FAILURE"],
    "ignored": BW["OUTCOME_IGNORED"],
}


def _breaker_step(b: Any, clock: Any, permits: dict[str, Permit], step: dict[str, Any]) -> None:
    op = step["op"]
    e = Error()
    if op == "acquire":
        p = Permit()
        status = _C.bw_breaker_try_acquire(b, byref(p), byref(e))
        _check_admission(step, status, e)
        if status == BW["OK"] and "permit" in step:
            permits[step["permit"]] = p
    elif op == "record":
        if step["permit"] not in permits:
            raise StepFailed(f"no permit named {step['permit']!r}")
        p = permits.pop(step["permit"])
        status = _C.bw_breaker_record(b, p, _OUTCOMES[step["outcome"]], byref(e))
        got = {BW["OK"]: "recorded", BW["STALE"]: "stale"}.get(status) or _text(
            _C.bw_status_name(status)
        )
        want = step.get("expect", "recorded")
        if got != want:
            raise StepFailed(f"expected {want}, got {got}")
    elif op == "call":
        times = step.get("times", 1)
        for i in range(1, times + 1):
            p = Permit()
            status = _C.bw_breaker_try_acquire(b, byref(p), byref(e))
            if status != BW["OK"]:
                raise StepFailed(
                    f"call {i} of {times}: expected admitted, got "
                    f"{_text(_C.bw_status_name(status))} ({_text(_C.bw_reason_name(e.reason))})"
                )
            status = _C.bw_breaker_record(b, p, _OUTCOMES[step["outcome"]], byref(e))
            if status != BW["OK"]:
                raise StepFailed(
                    f"call {i} of {times}: expected recorded, got {_text(_C.bw_status_name(status))}"
                )
    elif op == "advance":
        _advance(clock, step)
    elif op in ("reset", "force_open", "disable"):
        fn = getattr(_C, f"bw_breaker_{op}")
        _check(fn(b, byref(e)), e, op)
    elif op == "expect_state":
        state = c_uint32()
        _check(_C.bw_breaker_state(b, byref(state), byref(e)), e, "bw_breaker_state")
        got = _text(_C.bw_state_name(state.value))
        if got != step["state"]:
            raise StepFailed(f"expected state {step['state']!r}, got {got!r}")
    elif op == "expect_metrics":
        s = _metrics(_C.bw_breaker_metrics, b, BreakerStats)
        _compare_metrics(step, s, rates=("failure_rate", "slow_call_rate"))
    else:
        raise StepFailed(f"unknown breaker op {op!r}")


def _retry_step(r: Any, step: dict[str, Any]) -> None:
    if step["op"] != "delays":
        raise StepFailed(f"unknown retry op {step['op']!r}")
    buf = (c_uint64 * 64)()
    n = c_size_t()
    e = Error()
    _check(_C.bw_retry_delays_ns(r, buf, 64, byref(n), byref(e)), e, "bw_retry_delays_ns")
    got = list(buf[: n.value])
    want = [_ns(ms) for ms in step["ms"]]
    if got != want:
        raise StepFailed(f"expected delays {want} ns, got {got} ns")


def _bulkhead_step(b: Any, clock: Any, step: dict[str, Any]) -> None:
    op = step["op"]
    e = Error()
    if op == "try_acquire":
        _check_admission(step, _C.bw_bulkhead_try_acquire(b, byref(e)), e)
    elif op == "release":
        got = "released" if _C.bw_bulkhead_release(b, byref(e)) == BW["OK"] else "refused"
        want = step.get("expect", "released")
        if got != want:
            raise StepFailed(f"expected {want}, got {got}")
    elif op == "advance":
        _advance(clock, step)
    elif op == "expect_metrics":
        _compare_metrics(step, _metrics(_C.bw_bulkhead_metrics, b, BulkheadStats))
    else:
        raise StepFailed(f"unknown bulkhead op {op!r}")


def _limiter_step(lim: Any, clock: Any, step: dict[str, Any]) -> None:
    op = step["op"]
    e = Error()
    if op == "try_acquire":
        status = _C.bw_limiter_try_acquire(lim, step.get("n", 1), None, byref(e))
        _check_admission(step, status, e)
    elif op == "advance":
        _advance(clock, step)
    elif op == "expect_metrics":
        _compare_metrics(step, _metrics(_C.bw_limiter_metrics, lim, LimiterStats))
    else:
        raise StepFailed(f"unknown limiter op {op!r}")


def run(scenario: dict[str, Any]) -> tuple[int, str] | None:
    """Runs one scenario: ``None`` when it passed, else (step index, what differed)."""
    policy = scenario["policy"]
    config = json.dumps(scenario.get("config", {})).encode()
    e = Error()
    clock = P()
    _check(_C.bw_clock_manual_new(byref(clock), byref(e)), e, "bw_clock_manual_new")
    handle = P()
    if policy not in ("breaker", "retry", "bulkhead", "limiter"):
        _C.bw_clock_free(clock)
        return 0, f"unknown policy {policy!r}"
    new = getattr(_C, f"bw_{policy}_new_json")
    free = getattr(_C, f"bw_{policy}_free")
    try:
        status = new(config, len(config), clock, byref(handle), byref(e))
        if status != BW["OK"]:
            return 0, f"configuration refused: {e.message.decode()}"
        permits: dict[str, Permit] = {}
        for i, step in enumerate(scenario["steps"]):
            try:
                if policy == "breaker":
                    _breaker_step(handle, clock, permits, step)
                elif policy == "retry":
                    _retry_step(handle, step)
                elif policy == "bulkhead":
                    _bulkhead_step(handle, clock, step)
                else:
                    _limiter_step(handle, clock, step)
            except StepFailed as failed:
                return i, str(failed)
            except (KeyError, TypeError, ValueError) as bad:
                return i, f"malformed step {json.dumps(step)}: {bad!r}"
        return None
    finally:
        free(handle)
        _C.bw_clock_free(clock)


def run_all(out: Callable[[str], None] = print) -> tuple[int, int]:
    """Runs every scenario file, printing one line each and the totals."""
    passed = failed = 0
    for path in sorted(SCENARIOS.glob("*.json")):
        scenario = json.loads(path.read_text())
        result = run(scenario)
        if result is None:
            passed += 1
            out(f"ok   {scenario['name']}")
        else:
            failed += 1
            out(f"FAIL {scenario['name']}: step {result[0]}: {result[1]}")
    out(f"{passed} passed, {failed} failed")
    return passed, failed


def test_every_scenario_passes() -> None:
    lines: list[str] = []

    def out(line: str) -> None:
        print(line)
        lines.append(line)

    passed, failed = run_all(out)
    assert passed + failed >= 15, f"expected the scenario set in {SCENARIOS}"
    assert failed == 0, "\n".join(line for line in lines if line.startswith("FAIL"))


if __name__ == "__main__":
    sys.exit(1 if run_all()[1] else 0)
