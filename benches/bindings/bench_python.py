"""Per-call overhead of the breakwater Python binding against pybreaker 1.4.1: a guarded
no-op in the closed state (success) and a rejection by an open breaker (best of 7
interleaved runs of 200 000 calls each). Prints "name ns/op" lines. Needs `pip install
pybreaker==1.4.1`.

    PYTHONPATH=bindings/python python3 benches/bindings/bench_python.py
"""

import time

import pybreaker

from breakwater import CircuitBreaker, CircuitOpenError

N = 200_000


def noop():
    return None


def fail():
    raise ConnectionError("down")


ROUNDS = 7


def timed(cases, n=N):
    """Best of ROUNDS runs of each case, the cases interleaved round by round so that a
    burst of load from other processes hits every case alike."""
    best = {}
    for name, f in cases:
        f(n // 10)  # warm up
    for _ in range(ROUNDS):
        for name, f in cases:
            t = _run(f, n)
            best[name] = min(best.get(name, t), t)
    for name, _ in cases:
        print(f"{name} {best[name]:.1f}")


def _run(f, n):
    t0 = time.perf_counter_ns()
    f(n)
    return (time.perf_counter_ns() - t0) / n


def main():
    bw_closed = CircuitBreaker(consecutive_failures=1, open_duration=3600)
    bw_open = CircuitBreaker(consecutive_failures=1, open_duration=3600)
    try:
        bw_open.call(fail)
    except ConnectionError:
        pass
    pb_closed = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=3600)
    pb_open = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=3600)
    try:
        pb_open.call(fail)
    except (ConnectionError, pybreaker.CircuitBreakerError):
        pass

    def bw_success(n):
        call = bw_closed.call
        for _ in range(n):
            call(noop)

    def bw_reject(n):
        call = bw_open.call
        for _ in range(n):
            try:
                call(noop)
            except CircuitOpenError:
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

    timed(
        [
            ("python_breakwater_success", bw_success),
            ("python_pybreaker_success", pb_success),
            ("python_breakwater_rejection", bw_reject),
            ("python_pybreaker_rejection", pb_reject),
        ]
    )


if __name__ == "__main__":
    main()
