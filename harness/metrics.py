"""``opsdb metrics``: the monitoring signals in the Prometheus text format.

The figures are those of ``public.monitoring_signals()`` (one row per signal and
provider, counted over 5 minutes, 1 hour and 24 hours), read afresh on every
scrape. Each signal is a gauge ``opsdb_<signal>`` with a ``window`` label (``5m``,
``1h``, ``24h``) and, for signals counted per provider, a ``provider`` label;
``opsdb_up`` is 1 when the last read succeeded. ``prometheus-client`` writes the
exposition format and serves it (``--serve PORT``). Sample alerting rules for
every signal are in ``docs/monitoring.md``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg
from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

WINDOWS: tuple[tuple[str, str], ...] = (("5m", "last_5m"), ("1h", "last_1h"), ("24h", "last_24h"))

HELP: dict[str, str] = {
    "webhook_failures": "Webhook deliveries received in the window whose processing failed or payload was unusable",
    "signature_failures": "Webhook deliveries received in the window and rejected for their signature",
    "api_auth_failures": "Failed API key authentications in the window",
    "rate_limited": "Requests the rate limiter refused (HTTP 429) in the window",
    "credits_exhausted": "credits_exhausted alerts raised in the window",
    "payment_webhook_failures": "Paymob deliveries failed or rejected, and payment_failure alerts, in the window",
    "job_failures": "Scheduled job runs that failed or partly failed, started in the window",
    "webhook_retry_backlog": "Webhook deliveries waiting to be retried now (a level: the same in every window)",
    "webhook_dead_letter_backlog": "Webhook deliveries in dead letter now (a level: the same in every window)",
}


@dataclass(frozen=True)
class Signal:
    signal: str
    scope: str
    last_5m: int
    last_1h: int
    last_24h: int


def read_signals(url: str) -> list[Signal]:
    """One read of ``public.monitoring_signals()``, as the database URL's role."""
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        rows = conn.execute(
            "select signal, scope, last_5m, last_1h, last_24h from public.monitoring_signals()"
        ).fetchall()
    return [Signal(*row) for row in rows]


class SignalsCollector(Collector):
    """A collector that reads the signals on every scrape."""

    def __init__(self, read: Callable[[], list[Signal]], log: Callable[[str], None]) -> None:
        self._read = read
        self._log = log

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("opsdb_up", "1 when the last read of public.monitoring_signals() succeeded, else 0")
        try:
            signals = self._read()
        except psycopg.Error as exc:
            self._log(f"opsdb metrics: cannot read the signals: {' '.join(str(exc).split())}")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        families: dict[str, GaugeMetricFamily] = {}
        for s in signals:
            family = families.get(s.signal)
            if family is None:
                labels = ["provider", "window"] if s.scope else ["window"]
                family = GaugeMetricFamily(f"opsdb_{s.signal}", HELP.get(s.signal, s.signal), labels=labels)
                families[s.signal] = family
            for window, column in WINDOWS:
                value = getattr(s, column)
                family.add_metric([s.scope, window] if s.scope else [window], value)
        yield from families.values()


def registry_for(url: str, log: Callable[[str], None]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SignalsCollector(lambda: read_signals(url), log))
    return registry


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def exposition(url: str) -> str:
    """The current signals in the Prometheus text format (raises when the database cannot be read)."""
    signals = read_signals(url)  # fail loudly here, not as opsdb_up 0
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SignalsCollector(lambda: signals, _stderr))
    return generate_latest(registry).decode()


def serve(url: str, port: int, host: str, out: Callable[[str], None], stop: threading.Event | None = None) -> None:
    """Serve ``/metrics`` on ``host:port`` until ``stop`` is set (or forever)."""
    read_signals(url)  # refuse to start against a database that cannot answer
    server, thread = start_http_server(port, addr=host, registry=registry_for(url, _stderr))
    out(f"serving the monitoring signals on http://{host}:{server.server_port}/metrics")
    try:
        (stop or threading.Event()).wait()
    finally:
        server.shutdown()
        thread.join(timeout=5)
