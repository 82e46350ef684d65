"""The Python cases of scripts/bench-ratios.sh: the binding's call() against pybreaker
1.4.1, closed success and open rejection, through each library's public API.

    python3 cases.py list
    python3 cases.py count CASE K     setup, then CASE K times (the script runs two K and
                                      takes the difference, so setup and start-up cancel)
    python3 cases.py wall ROUNDS N    best ns per call of N calls, cases interleaved
"""

import sys
import time

import pybreaker

import breakwater


def noop():
    return None


def fail():
    raise ConnectionError("down")


def _breakwater(open_):
    # Keyword names as the binding spells them; tolerant of small renames in progress.
    cb = breakwater.CircuitBreaker(consecutive_failures=1, open_duration=3600)
    if open_:
        try:
            cb.call(fail)
        except ConnectionError:
            pass
    return cb


def _pybreaker(open_):
    cb = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=3600)
    if open_:
        try:
            cb.call(fail)
        except (ConnectionError, pybreaker.CircuitBreakerError):
            pass
    return cb


def cases():
    bw_closed, bw_open = _breakwater(False), _breakwater(True)
    pb_closed, pb_open = _pybreaker(False), _pybreaker(True)
    open_error = getattr(breakwater, "CircuitOpenError", Exception)

    def baseline(n):
        f = noop
        for _ in range(n):
            f()

    def bw_success(n):
        call = bw_closed.call
        for _ in range(n):
            call(noop)

    def bw_reject(n):
        call = bw_open.call
        for _ in range(n):
            try:
                call(noop)
            except open_error:
                pass

    def pb_success(n):
        call = pb_closed.call
        for _ in range(n):
            call(noop)

    def pb_reject(n):
        call = pb_open.call
        for _ in range(n):
            try:
                call(noop)
            except pybreaker.CircuitBreakerError:
                pass

    return [
        ("py_baseline_noop", baseline),
        ("py_bw_closed_success", bw_success),
        ("py_pybreaker_closed_success", pb_success),
        ("py_bw_open_rejection", bw_reject),
        ("py_pybreaker_open_rejection", pb_reject),
    ]


def main():
    mode = sys.argv[1]
    cs = cases()
    if mode == "list":
        for name, _ in cs:
            print(name)
    elif mode == "count":
        f = dict(cs)[sys.argv[2]]
        f(int(sys.argv[3]))
    elif mode == "wall":
        rounds, n = int(sys.argv[2]), int(sys.argv[3])
        best = {}
        for _, f in cs:
            f(n // 10)
        for _ in range(rounds):
            for name, f in cs:
                t0 = time.perf_counter_ns()
                f(n)
                t = (time.perf_counter_ns() - t0) / n
                best[name] = min(best.get(name, t), t)
        for name, _ in cs:
            print(f"{name} {best[name]:.1f}")


if __name__ == "__main__":
    main()
