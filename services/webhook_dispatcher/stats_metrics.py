"""Per-endpoint delivery figures on /metrics, beside the backlog gauges (workers.py): attempts by
outcome as counters (delivered and failed over any window are `increase()` of them), and the last
success and failure as timestamps. Every instance tallies the same attempt rows from the database
(stats.py), so aggregate across instances with `max`, as the backlog gauges."""

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


async def export_endpoint_stats(stats: EndpointStats) -> None:
    """Count the attempts written since the last run. Only endpoints with attempts get series; a
    deleted endpoint's stay until the process restarts (as counters do)."""
    for row in await stats.new_attempts():
        endpoint = str(row["endpoint_id"])
        ATTEMPTS.labels(endpoint, "succeeded").inc(row["succeeded"])
        ATTEMPTS.labels(endpoint, "failed").inc(row["failed"])
        if row["last_success_at"] is not None:
            LAST_SUCCESS.labels(endpoint).set(row["last_success_at"].timestamp())
        if row["last_failure_at"] is not None:
            LAST_FAILURE.labels(endpoint).set(row["last_failure_at"].timestamp())
            LAST_FAILURE_STATUS.labels(endpoint).set(row["last_failure_status"])
