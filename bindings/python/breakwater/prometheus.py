"""The registry's metrics for ``prometheus_client`` (the optional extra
``breakwater-resilience[prometheus]``): :class:`RegistryCollector`.

The library writes the Prometheus text of every policy of a
:class:`~breakwater.Registry` (:meth:`~breakwater.Registry.prometheus`); the collector
parses it with ``prometheus_client``'s own parser at each scrape (:func:`parse`) and
hands over the families as they are: no metric name or value is computed in Python, so the families
are the same in every language.

>>> from prometheus_client import CollectorRegistry, generate_latest
>>> from breakwater import Registry
>>> from breakwater.prometheus import RegistryCollector
>>> policies = Registry()
>>> db = policies.breaker("db")
>>> metrics = CollectorRegistry()
>>> metrics.register(RegistryCollector(policies))
>>> 'breakwater_breaker_state{' in generate_latest(metrics).decode()
True
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

try:
    from prometheus_client.openmetrics.parser import (
        text_string_to_metric_families as openmetrics_families,
    )
    from prometheus_client.parser import text_string_to_metric_families
except ImportError as e:  # pragma: no cover (the suite installs prometheus_client)
    raise ImportError(
        "breakwater.prometheus needs the prometheus_client package: install the extra "
        "with `pip install breakwater-resilience[prometheus]` (or `pip install "
        "prometheus_client`)"
    ) from e
try:  # the base class of collectors in recent versions; any object with collect() works
    from prometheus_client.registry import Collector
except ImportError:  # pragma: no cover
    Collector = object  # type: ignore[misc,assignment]

from .breaker import Registry

__all__ = ["RegistryCollector", "parse"]


def parse(text: str) -> Iterable[Any]:
    """The metric families of a Prometheus text with ``prometheus_client``'s parser: the
    text format's (``prometheus_client.parser``), or the OpenMetrics one for a text in
    that format (ending with ``# EOF``), whose counter families are named without
    ``_total``, which the text format's parser would misread."""
    if text.rstrip().endswith("# EOF"):
        families: Iterable[Any] = openmetrics_families(text)  # type: ignore[no-untyped-call]
        return families
    return text_string_to_metric_families(text)


class RegistryCollector(Collector):
    """A ``prometheus_client`` collector over a :class:`~breakwater.Registry`: each
    :meth:`collect` (each scrape) parses the registry's current Prometheus text.

    Register it on a ``CollectorRegistry`` (or on ``prometheus_client.REGISTRY``, next to
    the process's other metrics): ``metrics.register(RegistryCollector(registry))``. It
    is an unchecked collector (:meth:`describe` gives nothing), since the policies of a
    registry, and so its series, appear as they are first used.
    """

    def __init__(self, registry: Registry) -> None:
        if not isinstance(registry, Registry):
            raise TypeError(
                f"RegistryCollector needs a breakwater Registry, not {type(registry).__name__}"
            )
        self.registry = registry

    def collect(self) -> Iterator[Any]:
        """The metric families of the registry's current text, as
        ``prometheus_client.parser.text_string_to_metric_families`` reads them."""
        yield from parse(self.registry.prometheus())

    def describe(self) -> list[Any]:
        """Nothing: the collector is unchecked (its families are known at scrape time)."""
        return []

    def __repr__(self) -> str:
        return f"RegistryCollector({self.registry!r})"
