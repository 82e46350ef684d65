"""/metrics and /health for a service using breakwater, with the standard library's
http.server, prometheus_client (when installed) and logging.

The service calls an "authors" dependency through a registry's policies: a rate limiter,
a bulkhead and a circuit breaker. The registry exports them all: /metrics is the
library's Prometheus text (through prometheus_client's CollectorRegistry and
generate_latest when the package is installed, as the library writes it otherwise);
/health is the library's health report, 200 while the breakers are UP or DEGRADED, 503
when one is DOWN. The breaker's transitions reach the log through logging.basicConfig,
with no code for it.

Run from the repository root after `cargo build --release`:

    PYTHONPATH=bindings/python python3 examples/python/metrics_server.py
        serves http://127.0.0.1:8000/metrics and /health while background traffic
        goes through an outage of authors every 20 s (Ctrl-C stops it);
    ... metrics_server.py --port 0 --requests 3
        the same, and exits after answering 3 HTTP requests;
    ... metrics_server.py --once
        a scripted outage on a manual clock (instant), scraping its own /health and
        /metrics at each step; exits non-zero if they did not say what they should.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import breakwater
from breakwater import CircuitOpenError, ManualClock, RateLimitedError, Registry

try:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    from breakwater.prometheus import RegistryCollector

    HAVE_PROMETHEUS_CLIENT = True
except ImportError:  # the library's text as it is
    HAVE_PROMETHEUS_CLIENT = False

log = logging.getLogger("metrics_server")


class Service:
    """The service: one dependency, authors, behind the registry's policies."""

    def __init__(self, clock: breakwater.Clock | None, open_duration: float) -> None:
        self.policies = Registry()
        self.limiter = self.policies.rate_limiter("api", permits=100, period=1.0, clock=clock)
        self.bulkhead = self.policies.bulkhead("authors", max_concurrent=10)
        self.breaker = self.policies.breaker(
            "authors", consecutive_failures=3, open_duration=open_duration, clock=clock
        )
        self.authors_up = True

    def _fetch(self) -> str:
        if not self.authors_up:
            raise ConnectionError("authors is down")
        return "Ursula K. Le Guin"

    def author(self) -> str:
        """One request: the author's name, or the fallback."""
        try:
            with self.limiter, self.bulkhead:
                return str(self.breaker.call(self._fetch))
        except (ConnectionError, CircuitOpenError, RateLimitedError):
            return "(unknown author)"


def make_server(service: Service, port: int) -> ThreadingHTTPServer:
    if HAVE_PROMETHEUS_CLIENT:
        metrics = CollectorRegistry()
        metrics.register(RegistryCollector(service.policies))

        def exposition() -> tuple[bytes, str]:
            return generate_latest(metrics), CONTENT_TYPE_LATEST

    else:

        def exposition() -> tuple[bytes, str]:
            text = service.policies.prometheus()
            return text.encode(), Registry.prometheus_content_type()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path == "/metrics":
                status = 200
                body, content_type = exposition()
            elif self.path == "/health":
                report = service.policies.health()
                status = 503 if report["status"] == "DOWN" else 200
                body, content_type = json.dumps(report).encode(), "application/json"
            else:
                status, body, content_type = 404, b"not found\n", "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            log.debug(format, *args)

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def get(server: ThreadingHTTPServer, path: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def once() -> int:
    """The scripted outage, scraping /health and /metrics after each step."""
    clock = ManualClock()
    service = Service(clock, open_duration=10)
    server = make_server(service, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    wrong = []

    def scrape(expected_status: int, expected_health: str) -> None:
        status, body = get(server, "/health")
        health = json.loads(body)["status"]
        print(f"GET /health -> {status} {health}")
        if (status, health) != (expected_status, expected_health):
            wrong.append(f"/health said {status} {health}, not {expected_status} {expected_health}")
        status, body = get(server, "/metrics")
        for line in body.splitlines():
            if line.startswith("breakwater_breaker_state{") or (
                line.startswith("breakwater_breaker_rejected_total{") and 'reason="open"' in line
            ):
                print(f"  {line}")
        if status != 200 or "breakwater_bulkhead_acquired_total" not in body:
            wrong.append(f"/metrics answered {status} without the bulkhead's families")

    print("author:", service.author())
    scrape(200, "UP")
    service.authors_up = False
    print("authors goes down")
    for _ in range(5):
        print("author:", service.author())
    scrape(503, "DOWN")
    clock.advance(10)
    service.authors_up = True
    print("authors is back")
    print("author:", service.author())
    scrape(200, "UP")
    server.shutdown()
    for problem in wrong:
        print("error:", problem, file=sys.stderr)
    return 1 if wrong else 0


def serve(port: int, requests: int | None) -> int:
    """Serves /metrics and /health; background traffic meets an outage of authors for
    5 s every 20 s."""
    service = Service(None, open_duration=2)
    server = make_server(service, port)
    start = time.monotonic()

    def traffic() -> None:
        while True:
            service.authors_up = not 5 <= (time.monotonic() - start) % 20 < 10
            service.author()
            time.sleep(0.05)

    threading.Thread(target=traffic, daemon=True).start()
    bound = server.server_address[1]
    print(f"serving http://127.0.0.1:{bound}/metrics and /health", flush=True)
    try:
        if requests is None:
            server.serve_forever()
        else:
            server.daemon_threads = False  # server_close() waits for the last answers
            for _ in range(requests):
                server.handle_request()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="0: any free port")
    parser.add_argument("--requests", type=int, help="exit after answering N requests")
    parser.add_argument("--once", action="store_true", help="the scripted outage, then exit")
    args = parser.parse_args()
    # The breakers' transitions appear here with no other code (WARNING when a breaker
    # opens, INFO for the others).
    logging.basicConfig(
        level=logging.INFO, stream=sys.stdout, format="%(levelname)s %(name)s: %(message)s"
    )
    if args.requests is not None and args.requests < 1:
        parser.error("--requests must be at least 1")
    return once() if args.once else serve(args.port, args.requests)


if __name__ == "__main__":
    sys.exit(main())
