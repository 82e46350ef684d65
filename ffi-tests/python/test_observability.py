"""Metrics, health and logs through Python: the registry's Prometheus text read by
prometheus_client's parser (numbers equal to each policy's metrics()), the collector in a
CollectorRegistry, the health report as a dict, the library's log records in the
standard logging module (a scripted outage on the manual clock), and the level sync."""

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import breakwater
from breakwater import (
    BulkheadFullError,
    InvalidArgumentError,
    InvalidConfigError,
    ManualClock,
    Registry,
    State,
    ThreadPool,
)
from breakwater import _logging

try:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.openmetrics import parser as openmetrics_parser
    from prometheus_client.parser import text_string_to_metric_families

    from breakwater import prometheus as bw_prometheus
    from breakwater.prometheus import RegistryCollector
except ModuleNotFoundError:  # scripts/suites/python.sh requires it under CI=true
    bw_prometheus = None

# The tests that read Prometheus text (the health and log tests run without it).
needs_prometheus_client = pytest.mark.skipif(
    bw_prometheus is None, reason="prometheus_client is not installed"
)

ROOT = Path(__file__).resolve().parents[2]
STATE_CODES = {state: code for code, state in enumerate(State)}


def families(text):
    """prometheus_client's reading of a text: the text format's parser, or the
    OpenMetrics one for a text in that format."""
    if text.rstrip().endswith("# EOF"):
        return list(openmetrics_parser.text_string_to_metric_families(text))
    return list(text_string_to_metric_families(text))


def samples(text):
    """Every sample of a Prometheus text: [(name, labels, value)]."""
    return [(s.name, s.labels, s.value) for family in families(text) for s in family.samples]


def series(text):
    """The samples of a text as a sorted list, for comparing two texts."""
    return sorted((n, sorted(lab.items()), v) for n, lab, v in samples(text))


def value(text, name, **labels):
    """The one sample ``name`` whose labels include ``labels``."""
    found = [
        v
        for n, lab, v in samples(text)
        if n == name and all(lab.get(k) == want for k, want in labels.items())
    ]
    assert len(found) == 1, f"{name} {labels}: {found}"
    return found[0]


def fail(breaker, n=1):
    for _ in range(n):
        breaker.acquire().failure()


def succeed(breaker, n=1):
    for _ in range(n):
        breaker.acquire().success()


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def levels():
    """Restores the breakwater loggers' levels, and the library's level, after a test."""
    names = ["breakwater", "breakwater.breaker", "breakwater.retry", ""]
    saved = {n: logging.getLogger(n).level for n in names}
    yield
    for n, level in saved.items():
        logging.getLogger(n).setLevel(level)
    breakwater.sync_log_level()


# ---- Prometheus text ----


def breaker_outage(reg, clock):
    """authors: 2 successes, 3 failures (opens), 2 rejections, the trial succeeds
    (closes), 1 ignored outcome; and a forced-open rejection on a second breaker."""
    b = reg.breaker("authors", consecutive_failures=3, open_duration=10, clock=clock)
    succeed(b, 2)
    fail(b, 3)
    for _ in range(2):
        with pytest.raises(breakwater.CircuitOpenError):
            b.acquire()
    clock.advance(10)
    succeed(b)
    b.acquire().ignore()
    other = reg.breaker("books", clock=clock)
    other.force_open()
    with pytest.raises(breakwater.ForcedOpenError):
        other.acquire()
    return b, other


@needs_prometheus_client
def test_breaker_families_equal_the_breakers_metrics(clock):
    reg = Registry()
    authors, books = breaker_outage(reg, clock)
    text = reg.prometheus()
    for b, name in ((authors, "authors"), (books, "books")):
        m = b.metrics()
        assert value(text, "breakwater_breaker_state", breaker=name) == STATE_CODES[m.state]
        for family, number in (
            ("requests", m.total_requests),
            ("successes", m.total_successes),
            ("failures", m.total_failures),
            ("ignored", m.total_ignored),
            ("transitions", m.transitions),
            ("opened", m.opened),
        ):
            assert value(text, f"breakwater_breaker_{family}_total", breaker=name) == number
        for reason, number in (
            ("open", m.rejected_open),
            ("trial_full", m.rejected_trial_full),
            ("forced_open", m.rejected_forced_open),
        ):
            got = value(text, "breakwater_breaker_rejected_total", breaker=name, reason=reason)
            assert got == number
    # the scripted numbers themselves, so that equal zeros cannot pass for equality
    m = authors.metrics()
    assert (m.total_successes, m.total_failures, m.rejected_open, m.opened) == (3, 3, 2, 1)
    assert books.metrics().rejected_forced_open == 1
    assert value(text, "breakwater_breaker_state", breaker="books") == STATE_CODES[
        State.FORCED_OPEN
    ]


@needs_prometheus_client
def test_bulkhead_families_equal_the_bulkheads_metrics():
    reg = Registry()
    a = reg.bulkhead("db", max_concurrent=2)
    b = reg.bulkhead("db")
    assert a.try_acquire() and b.try_acquire()
    with pytest.raises(BulkheadFullError):
        a.acquire()
    b.release()
    m = a.metrics()
    assert (m.in_use, m.rejected, m.acquired, m.peak) == (1, 1, 2, 2)
    text = reg.prometheus()
    for family, number in (
        ("in_use", m.in_use),
        ("available", m.available),
        ("waiting", m.waiting),
        ("max", m.max),
        ("peak", m.peak),
        ("acquired_total", m.acquired),
        ("rejected_total", m.rejected),
    ):
        assert value(text, f"breakwater_bulkhead_{family}", bulkhead="db") == number
    a.release()


@needs_prometheus_client
def test_rate_limiter_families_equal_the_limiters_metrics(clock):
    reg = Registry()
    limiter = reg.rate_limiter("api", permits=3, period=1.0, clock=clock)
    assert [limiter.try_acquire() for _ in range(4)] == [True, True, True, False]
    limiter.acquire(timeout=1.0)  # waits on the manual clock
    m = limiter.metrics()
    assert m.permitted == 4 and m.rejected >= 1
    text = reg.prometheus()
    for family, number in (
        ("permitted_total", m.permitted),
        ("rejected_total", m.rejected),
        ("waited_total", m.waited),
        ("available", m.available),
    ):
        assert value(text, f"breakwater_rate_limiter_{family}", limiter="api") == number


@needs_prometheus_client
def test_an_empty_registry_has_an_empty_text_and_a_closed_one_refuses():
    reg = Registry()
    assert reg.prometheus() == "# EOF\n"  # OpenMetrics: an empty exposition
    assert Registry.prometheus_content_type() == (
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    )
    assert samples(reg.prometheus()) == []
    reg.close()
    with pytest.raises(ValueError, match="registry is closed"):
        reg.prometheus()
    with pytest.raises(ValueError, match="registry is closed"):
        reg.health()


@needs_prometheus_client
def test_a_policy_registered_elsewhere_in_the_registry_appears_at_once(clock):
    reg = Registry()
    text = reg.prometheus()
    reg.breaker("late", clock=clock)
    assert "breakwater_breaker_state" not in text
    assert value(reg.prometheus(), "breakwater_breaker_state", breaker="late") == 0


# ---- the prometheus_client collector ----


@needs_prometheus_client
def test_the_collector_serves_the_library_families_through_generate_latest(clock):
    reg = Registry()
    authors, _ = breaker_outage(reg, clock)
    reg.bulkhead("db", max_concurrent=4)
    metrics = CollectorRegistry()
    collector = RegistryCollector(reg)
    metrics.register(collector)
    assert collector.describe() == []
    exposed = generate_latest(metrics).decode()
    m = authors.metrics()
    assert value(exposed, "breakwater_breaker_failures_total", breaker="authors") == 3
    assert value(exposed, "breakwater_breaker_requests_total", breaker="authors") == (
        m.total_requests
    )
    assert value(exposed, "breakwater_bulkhead_max", bulkhead="db") == 4
    # the same series as the library's text, no more, no fewer
    assert series(exposed) == series(reg.prometheus())
    # each scrape reads the current numbers
    fail(authors)
    scraped = generate_latest(metrics).decode()
    assert value(scraped, "breakwater_breaker_failures_total", breaker="authors") == 4


@needs_prometheus_client
def test_the_collector_families_have_the_library_types(clock):
    reg = Registry()
    breaker_outage(reg, clock)
    types = {f.name: f.type for f in RegistryCollector(reg).collect()}
    assert types["breakwater_breaker_state"] == "gauge"
    assert types["breakwater_breaker_requests"] == "counter"
    assert types["breakwater_breaker_rejected"] == "counter"


OPENMETRICS = """# HELP breakwater_breaker_requests Calls the breaker admitted.
# TYPE breakwater_breaker_requests counter
breakwater_breaker_requests_total{breaker="authors"} 4
# HELP breakwater_breaker_state The state.
# TYPE breakwater_breaker_state gauge
breakwater_breaker_state{breaker="authors"} 1
# EOF
"""


@needs_prometheus_client
def test_the_collector_also_reads_openmetrics_text(monkeypatch):
    # The library's text format may become OpenMetrics (counter families named without
    # _total): the collector must expose the same counters through generate_latest.
    reg = Registry()
    monkeypatch.setattr(Registry, "prometheus", lambda self: OPENMETRICS)
    types = {f.name: f.type for f in bw_prometheus.parse(OPENMETRICS)}
    assert types == {"breakwater_breaker_requests": "counter", "breakwater_breaker_state": "gauge"}
    metrics = CollectorRegistry()
    metrics.register(RegistryCollector(reg))
    exposed = generate_latest(metrics).decode()
    assert "# TYPE breakwater_breaker_requests_total counter" in exposed
    assert "untyped" not in exposed
    assert value(exposed, "breakwater_breaker_requests_total", breaker="authors") == 4
    assert value(exposed, "breakwater_breaker_state", breaker="authors") == 1


@needs_prometheus_client
def test_the_collector_needs_a_registry():
    with pytest.raises(TypeError, match="needs a breakwater Registry, not dict"):
        RegistryCollector({})


@needs_prometheus_client
def test_two_collectors_of_one_registry_cannot_clash_in_one_collector_registry():
    reg = Registry()
    reg.breaker("db")
    metrics = CollectorRegistry()
    metrics.register(RegistryCollector(reg))
    # unchecked collectors are not compared at registration; the text stays readable
    metrics.register(RegistryCollector(Registry()))
    assert value(generate_latest(metrics).decode(), "breakwater_breaker_state", breaker="db") == 0


# ---- health ----


def test_health_is_up_down_or_degraded_per_breaker_and_the_worst_overall(clock):
    reg = Registry()
    assert reg.health() == {"status": "UP", "components": {}}
    a = reg.breaker("authors", consecutive_failures=1, open_duration=10, clock=clock)
    b = reg.breaker("books", clock=clock)
    report = reg.health()
    assert report["status"] == "UP"
    assert report["components"]["authors"] == {"status": "UP", "details": {"state": "closed"}}
    fail(a)
    report = reg.health()
    assert report["status"] == "DOWN"
    assert report["components"]["authors"]["status"] == "DOWN"
    assert report["components"]["authors"]["details"]["state"] == "open"
    assert report["components"]["books"]["status"] == "UP"
    clock.advance(10)
    assert a.state is State.HALF_OPEN
    report = reg.health()
    assert (report["status"], report["components"]["authors"]["status"]) == (
        "DEGRADED",
        "DEGRADED",
    )
    succeed(a)
    b.disable()
    report = reg.health()
    assert report["status"] == "UP"
    assert report["components"]["books"]["details"]["state"] == "disabled"
    b.force_open()
    assert reg.health()["components"]["books"]["status"] == "DOWN"


# ---- Registry.bulkhead / Registry.rate_limiter ----


def test_registry_bulkheads_share_permits_and_report_the_registered_configuration():
    reg = Registry()
    a = reg.bulkhead("db", {"max_concurrent": 1}, max_wait=0)
    b = reg.bulkhead("db")
    assert b.config == {**a.config, "name": "db"} and b.config["max_concurrent"] == 1
    assert a.try_acquire()
    assert not b.try_acquire()
    a.release()
    assert b.try_acquire()
    b.release()
    with pytest.raises(InvalidConfigError, match="already registered with a different"):
        reg.bulkhead("db", max_concurrent=2)
    assert reg.bulkhead("db", max_concurrent=1).metrics().max == 1
    assert reg.bulkhead("other").config["max_concurrent"] == reg.bulkhead("other").metrics().max


def test_registry_rate_limiters_share_permits_and_keep_the_first_clock(clock):
    reg = Registry()
    a = reg.rate_limiter("api", permits=2, period=1.0, clock=clock)
    b = reg.rate_limiter("api")
    assert b.clock is clock
    assert b.config["permits"] == 2 and b.config["name"] == "api"
    assert a.try_acquire() and b.try_acquire()
    assert not a.try_acquire()
    b.acquire(timeout=1.0)  # sleeps on the manual clock the limiter was built on
    assert clock.now() == 0.5
    with pytest.raises(InvalidConfigError, match="already registered with a different"):
        reg.rate_limiter("api", permits=3, period=1.0)


@pytest.mark.parametrize("method", ["bulkhead", "rate_limiter"])
def test_registry_policies_refuse_bad_input(method):
    reg = Registry()
    make = getattr(reg, method)
    with pytest.raises(TypeError, match="name must be a str, not int"):
        make(3)
    with pytest.raises(InvalidArgumentError, match="name must not be empty"):
        make("")
    with pytest.raises(InvalidConfigError, match='unknown key "bogus"'):
        make("x", {"bogus": 1})
    with pytest.raises(TypeError, match="config must be a dict, not list"):
        make("x", [1])
    reg.close()
    with pytest.raises(ValueError, match="registry is closed"):
        make("x")


def test_registry_rate_limiter_refuses_a_clock_of_another_kind():
    with pytest.raises(TypeError, match="clock must be a breakwater Clock, not str"):
        Registry().rate_limiter("api", clock="now")


# ---- logs ----


def outage(clock, on_transition=None):
    """authors opens (3 failures), rejects one call, goes half-open, a trial fails, opens
    again, goes half-open, a trial succeeds, closes."""
    b = breakwater.CircuitBreaker(
        name="authors",
        consecutive_failures=3,
        open_duration=10,
        clock=clock,
        on_transition=on_transition,
    )
    fail(b, 3)
    with pytest.raises(breakwater.CircuitOpenError):
        b.acquire()
    clock.advance(10)
    fail(b)
    clock.advance(10)
    succeed(b)
    assert b.state is State.CLOSED
    return b


def breaker_records(caplog, name="authors"):
    return [
        r
        for r in caplog.records
        if r.name.startswith("breakwater") and getattr(r, "breakwater", {}).get("name") == name
    ]


def test_a_scripted_outage_reaches_logging_with_the_core_sentences(caplog, clock, levels):
    caplog.set_level(logging.INFO, logger="breakwater")
    assert breakwater.sync_log_level() == "info"
    seen = []
    outage(clock, seen.append)
    records = breaker_records(caplog)
    assert {r.name for r in records} == {"breakwater.breaker"}
    assert [(r.levelname, r.getMessage()) for r in records] == [
        ("WARNING", "breaker authors: closed -> open (3 consecutive failures)"),
        ("INFO", "breaker authors: open -> half-open (open duration elapsed)"),
        ("WARNING", "breaker authors: half-open -> open (trial failed)"),
        ("INFO", "breaker authors: open -> half-open (open duration elapsed)"),
        ("INFO", "breaker authors: half-open -> closed (trial succeeded)"),
    ]
    # the fields are the transition's, as the breaker's own callback saw it
    assert len(seen) == len(records)
    for r, t in zip(records, seen):
        assert r.breakwater == {
            "policy": "circuit_breaker",
            "name": "authors",
            "from": t.from_state.value,
            "to": t.to_state.value,
            "reason": t.reason,
            "generation": t.generation,
        }
    # DEBUG records (the rejection) were not asked for
    assert not [r for r in records if r.levelno < logging.INFO]


def test_debug_records_come_once_the_level_is_synced(caplog, clock, levels):
    caplog.set_level(logging.DEBUG, logger="breakwater")
    assert breakwater.sync_log_level() == "debug"
    outage(clock)
    rejected = [r for r in breaker_records(caplog) if r.levelno == logging.DEBUG]
    assert [(r.getMessage(), r.breakwater["reason"]) for r in rejected] == [
        ("breaker authors: call rejected (open)", "open")
    ]


def test_records_below_the_logger_level_are_not_forwarded(caplog, clock, levels):
    caplog.set_level(logging.DEBUG)  # the root and caplog's handler take everything
    logging.getLogger("breakwater").setLevel(logging.WARNING)
    assert breakwater.sync_log_level() == "info"  # transitions always reach Python
    outage(clock)
    assert [r.levelname for r in breaker_records(caplog)] == ["WARNING", "WARNING"]
    logging.getLogger("breakwater").setLevel(logging.ERROR)
    caplog.clear()
    outage(clock)
    assert breaker_records(caplog) == []


def test_the_level_sync_follows_the_finest_breakwater_logger(levels):
    root, parent = logging.getLogger(), logging.getLogger("breakwater")
    child = logging.getLogger("breakwater.breaker")
    root.setLevel(logging.WARNING)
    parent.setLevel(logging.NOTSET)
    child.setLevel(logging.NOTSET)
    assert breakwater.sync_log_level() == "info"
    root.setLevel(logging.DEBUG)  # inherited
    assert breakwater.sync_log_level() == "debug"
    root.setLevel(logging.WARNING)
    child.setLevel(logging.DEBUG)  # one child asks for more
    assert breakwater.sync_log_level() == "debug"
    child.setLevel(5)
    assert breakwater.sync_log_level() == "trace"
    child.setLevel(logging.NOTSET)
    parent.setLevel(logging.CRITICAL)
    assert breakwater.sync_log_level() == "info"


def test_a_raising_logging_filter_never_reaches_the_library(clock, levels, monkeypatch):
    caught = []
    monkeypatch.setattr(sys, "unraisablehook", caught.append)

    class Broken(logging.Filter):
        def filter(self, record):
            raise RuntimeError("filter broke")

    logger = logging.getLogger("breakwater.breaker")
    logger.setLevel(logging.INFO)
    broken = Broken()
    logger.addFilter(broken)
    try:
        breakwater.sync_log_level()
        b = outage(clock)  # every transition's record raises in the filter
    finally:
        logger.removeFilter(broken)
    assert b.metrics().transitions == 5
    assert len(caught) == 5
    assert all(isinstance(c.exc_value, RuntimeError) for c in caught)
    assert caught[0].err_msg == "Exception ignored in the breakwater log handler"


def test_without_a_hook_the_error_is_printed_on_stderr(clock, levels, monkeypatch, capsys):
    monkeypatch.setattr(sys, "unraisablehook", sys.__unraisablehook__)

    class Broken(logging.Filter):
        def filter(self, record):
            raise RuntimeError("filter broke")

    logger = logging.getLogger("breakwater.breaker")
    logger.setLevel(logging.WARNING)
    broken = Broken()
    logger.addFilter(broken)
    try:
        breakwater.sync_log_level()
        fail(breakwater.CircuitBreaker(name="stderr", consecutive_failures=1, clock=clock))
    finally:
        logger.removeFilter(broken)
    err = capsys.readouterr().err
    assert "Exception ignored in the breakwater log handler" in err
    assert "RuntimeError: filter broke" in err


def test_records_from_library_threads_reach_logging(caplog, clock, levels):
    caplog.set_level(logging.WARNING, logger="breakwater")
    breakwater.sync_log_level()
    b = breakwater.CircuitBreaker(name="pooled", consecutive_failures=2, clock=clock)
    pool = ThreadPool(name="obs", workers=2)
    try:
        tasks = [pool.submit(fail, b) for _ in range(2)]
        for t in tasks:
            t.result()
    finally:
        pool.shutdown()
    records = breaker_records(caplog, "pooled")
    assert [r.getMessage() for r in records] == [
        "breaker pooled: closed -> open (2 consecutive failures)"
    ]
    assert records[0].thread != threading.main_thread().ident


def test_a_record_caused_by_the_library_with_the_gil_released_reaches_logging(caplog, levels):
    # The C pipeline records the callback's failure in the breaker after the callback
    # returned, inside bw_pipeline_call, which releases the GIL: the handler takes it back.
    import ctypes

    from breakwater import _abi, _lib

    caplog.set_level(logging.WARNING, logger="breakwater")
    breakwater.sync_log_level()
    b = breakwater.CircuitBreaker(name="gil-released", consecutive_failures=1)
    builder, pipeline = _abi.PIPELINE_BUILDER_P(), _abi.PIPELINE_P()
    _lib.call(_lib.lib.bw_pipeline_builder_new, None, ctypes.byref(builder))
    try:
        _lib.call(_lib.lib.bw_pipeline_builder_add_breaker, builder, b._vp)
        _lib.call(_lib.lib.bw_pipeline_builder_build, builder, ctypes.byref(pipeline))
    finally:
        _lib.lib.bw_pipeline_builder_free(builder)
    threads = []

    def failing(_user_data, _info):
        threads.append(threading.get_ident())
        return -7  # a failure

    callback = _abi.PIPELINE_CALLBACK(failing)
    out = ctypes.c_int(0)
    try:
        with pytest.raises(breakwater.FailedError):
            _lib.call(
                _lib.lib.bw_pipeline_call,
                pipeline,
                callback,
                None,
                _abi.VOID_CALLBACK(),
                None,
                ctypes.byref(out),
            )
    finally:
        _lib.lib.bw_pipeline_free(pipeline)
    assert b.state is State.OPEN
    records = breaker_records(caplog, "gil-released")
    assert [r.getMessage() for r in records] == [
        "breaker gil-released: closed -> open (1 consecutive failure)"
    ]
    assert records[0].thread == threads[0] == threading.get_ident()


def test_records_from_many_threads_at_once_are_all_delivered(caplog, levels):
    caplog.set_level(logging.WARNING, logger="breakwater")
    breakwater.sync_log_level()
    breakers = [
        breakwater.CircuitBreaker(name=f"t{i}", consecutive_failures=1) for i in range(8)
    ]
    threads = [threading.Thread(target=fail, args=(b,)) for b in breakers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    names = sorted(r.breakwater["name"] for r in caplog.records if r.name == "breakwater.breaker")
    assert names == sorted(b.name for b in breakers)


def run_python(code):
    env = {k: v for k, v in os.environ.items() if k != "BREAKWATER_LIB"}
    env["PYTHONPATH"] = str(ROOT / "bindings" / "python")
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )


def test_a_service_configuring_logging_after_the_import_sees_every_transition():
    code = """if True:
        import breakwater, logging
        logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
        clock = breakwater.ManualClock()
        b = breakwater.CircuitBreaker(name="authors", consecutive_failures=1,
                                      open_duration=1, clock=clock)
        b.acquire().failure()
        clock.advance(1)
        b.acquire().success()
    """
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "breakwater.breaker WARNING breaker authors: closed -> open (1 consecutive failure)",
        "breakwater.breaker INFO breaker authors: open -> half-open (open duration elapsed)",
        "breakwater.breaker INFO breaker authors: half-open -> closed (trial succeeded)",
    ]


def test_a_program_that_configures_no_logging_prints_nothing():
    code = """if True:
        import breakwater
        b = breakwater.CircuitBreaker(name="quiet", consecutive_failures=1)
        b.acquire().failure()
        print(b.state.value)
    """
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == ("open\n", "")


def test_the_library_level_at_import_is_info_and_the_handler_is_removed_at_exit():
    code = """if True:
        import atexit, logging, breakwater
        from breakwater import _logging
        print(_logging._state["level"])
        atexit._run_exitfuncs()  # what the interpreter runs at exit
        print(_logging._state["level"])
        logging.basicConfig(level=logging.INFO)
        b = breakwater.CircuitBreaker(name="late", consecutive_failures=1)
        b.acquire().failure()
        print(b.state.value)
    """
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(breakwater._abi.LOG_INFO), "0", "open"]
    assert result.stderr == ""  # no handler any more: the transition was not forwarded


def test_the_health_words_are_the_librarys():
    from breakwater import _abi
    from breakwater._lib import lib

    words = [lib.bw_health_status_name(c).decode() for c in
             (_abi.HEALTH_UP, _abi.HEALTH_DEGRADED, _abi.HEALTH_DOWN)]
    assert words == ["UP", "DEGRADED", "DOWN"]
    assert lib.bw_health_status_name(3) is None
    reg = Registry()
    reg.breaker("db").force_open()
    assert reg.health()["status"] == words[2]
