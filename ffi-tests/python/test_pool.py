"""The thread pool through Python: tasks on named workers, exceptions re-raised
unchanged, full queue, shutdown outcomes, bad input."""

import threading

import pytest

import breakwater
from breakwater import QueueFullError, ShutdownError, ThreadPool


def test_a_task_runs_on_a_named_worker_and_returns_its_value():
    with ThreadPool("payments", workers=1) as pool:
        assert pool.submit(lambda: threading.current_thread().name).result(timeout=5) != "MainThread"
        assert pool.submit(lambda a, b=0: a + b, 40, b=2).result() == 42
        m = pool.metrics
        assert (m.workers, m.spawned, m.completed) == (1, 1, 2)


def test_an_exception_is_re_raised_unchanged():
    class Boom(Exception):
        pass

    error = Boom("payments down")

    def fail():
        raise error

    with ThreadPool(workers=1) as pool:
        task = pool.submit(fail)
        with pytest.raises(Boom) as info:
            task.result()
        assert info.value is error
        with pytest.raises(Boom):  # the outcome stays
            task.result()


def test_payments_go_on_while_email_is_stuck_and_full_email_rejects():
    gate = threading.Event()
    with ThreadPool("email", workers=2, queue_capacity=1) as email, ThreadPool("payments", workers=2) as payments:
        stuck = [email.submit(gate.wait) for _ in range(3)]
        with pytest.raises(QueueFullError):
            email.submit(gate.wait)
        assert [payments.submit(lambda i=i: i * 2).result() for i in range(5)] == [0, 2, 4, 6, 8]
        with pytest.raises(breakwater.TimeoutError):
            stuck[0].result(timeout=0.01)
        gate.set()
        assert [t.result() for t in stuck] == [True, True, True]
        assert email.metrics.rejected == 1


def test_shutdown_gives_every_task_one_outcome():
    gate = threading.Event()
    started = threading.Event()

    def blocked():
        started.set()
        return gate.wait()

    pool = ThreadPool("reports", workers=1, queue_capacity=3)
    tasks = [pool.submit(blocked)] + [pool.submit(lambda: "late") for _ in range(3)]
    started.wait()
    report = pool.shutdown("cancel", timeout=0)
    assert (report.mode, report.terminated, report.cancelled, report.busy_workers) == ("cancel", False, 3, 1)
    with pytest.raises(ShutdownError):
        pool.submit(lambda: None)
    gate.set()
    assert pool.shutdown("drain").terminated
    assert tasks[0].result() is True
    for t in tasks[1:]:
        with pytest.raises(ShutdownError):
            t.result()
    pool.close()
    with pytest.raises(ValueError, match="closed"):
        pool.submit(lambda: None)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="workers"):
        ThreadPool(workers=0)
    with pytest.raises(TypeError, match="workers"):
        ThreadPool(workers="2")
    with pytest.raises(ValueError, match="queue_capacity"):
        ThreadPool(queue_capacity=-1)
    with pytest.raises(breakwater.InvalidConfigError, match="name"):
        ThreadPool(name="a\0b")
    with ThreadPool(workers=1) as pool:
        with pytest.raises(TypeError, match="callable"):
            pool.submit(42)
        with pytest.raises(ValueError, match="mode"):
            pool.shutdown("later")
