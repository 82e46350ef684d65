"""Per-call overhead of the breakwater Python binding against pybreaker 1.4.1: a guarded
no-op in the closed state (success) and a rejection by an open breaker. Prints
"name ns/op" lines. Needs `pip install pybreaker==1.4.1`.

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


def timed(name, f, n=N):
    f(n // 10)  # warm up
    best = min(_run(f, n) for _ in range(3))
    print(f"{name} {best:.1f}")


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

    timed("python_breakwater_success", bw_success)
    timed("python_pybreaker_success", pb_success)
    timed("python_breakwater_rejection", bw_reject)
    timed("python_pybreaker_rejection", pb_reject)


if __name__ == "__main__":
    main()
