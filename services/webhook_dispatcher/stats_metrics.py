"""Per-endpoint delivery figures on /metrics, beside the backlog gauges (workers.py): attempts by
outcome as counters (delivered and failed over any window are `increase()` of them), and the last
success and failure as timestamps. Every instance tallies the same attempt rows from the database
(stats.py), so aggregate across instances with `max`, as the backlog gauges."""

import contextlib
from typing import Final

from prometheus_client import Counter, Gauge

from services.webhook_dispatcher.stats import EndpointStats

ATTEMPTS: Final = Counter(
    "webhook_endpoint_attempts_total",
    "Delivery attempts per endpoint by outcome: succeeded (2xx) or failed (retried or not)",
    ["endpoint", "outcome"],
)
LAST_SUCCESS: Final = Gauge(
    "webhook_endpoint_last_success_timestamp_seconds", "When a delivery to the endpoint last succeeded", ["endpoint"]
)
LAST_FAILURE: Final = Gauge(
    "webhook_endpoint_last_failure_timestamp_seconds",
    "When a delivery attempt to the endpoint last failed",
    ["endpoint"],
)
LAST_FAILURE_STATUS: Final = Gauge(
    "webhook_endpoint_last_failure_status",
    "The HTTP status of the endpoint's last failed attempt (0: no answer)",
    ["endpoint"],
)


# The endpoints this process has series of.
_SHOWN: Final[set[str]] = set()


async def export_endpoint_stats(stats: EndpointStats) -> None:
    """Count the attempts written since the last run. An endpoint gets series with its first attempt
    counted; a deleted endpoint's go."""
    rows, endpoints = await stats.new_attempts()
    for gone in _SHOWN - {str(endpoint) for endpoint in endpoints}:
        for metric, labels in (
            (ATTEMPTS, (gone, "succeeded")),
            (ATTEMPTS, (gone, "failed")),
            (LAST_SUCCESS, (gone,)),
            (LAST_FAILURE, (gone,)),
            (LAST_FAILURE_STATUS, (gone,)),
        ):
            with contextlib.suppress(KeyError):  # a series it never had
                metric.remove(*labels)
        _SHOWN.discard(gone)
    for row in rows:
        endpoint = str(row["endpoint_id"])
        _SHOWN.add(endpoint)
        ATTEMPTS.labels(endpoint, "succeeded").inc(row["succeeded"])
        ATTEMPTS.labels(endpoint, "failed").inc(row["failed"])
        if row["last_success_at"] is not None:
            LAST_SUCCESS.labels(endpoint).set(row["last_success_at"].timestamp())
        if row["last_failure_at"] is not None:
            LAST_FAILURE.labels(endpoint).set(row["last_failure_at"].timestamp())
            LAST_FAILURE_STATUS.labels(endpoint).set(row["last_failure_status"])
