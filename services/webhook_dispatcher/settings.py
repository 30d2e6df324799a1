"""The dispatcher's settings: the shared ones plus delivery timing and safety (env prefix WEBHOOKS_)."""

from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network
from typing import Annotated

from pydantic import Field, field_validator

from shared.idempotency import IdempotencySettings
from shared.settings import SET_WHEN_DEPLOYED
from shared.topics import ANONYMIZATION_EVENTS, CANCELLATIONS_EVENTS, ORDERS_EVENTS

# The topics whose events subscribers may receive: every event on them that decodes is fanned out,
# including types this build does not list yet. Not anonymization.events: the erasure saga's events are
# never for subscribers, and the dispatcher reads its `erasure.requested` in a subscription of its own
# (one consumer group per service, and an event processed once per service: the topic cannot be in both).
CUSTOMER_FACING_TOPICS = (ORDERS_EVENTS, CANCELLATIONS_EVENTS)


def _loopback() -> list[IPv4Network | IPv6Network]:
    return [IPv4Network("127.0.0.0/8"), IPv6Network("::1/128")]


class DispatcherSettings(IdempotencySettings):  # API keys, and Idempotency-Keys' lifetime
    # An endpoint's registration is a few KB at most (20 headers of 1,000 characters, 100 filters).
    max_body_bytes: int = Field(default=64 * 1024, ge=1)
    # What the fan-out consumes; only a benchmark or a staging copy has reason to change it.
    event_topics: list[str] = Field(default=list(CUSTOMER_FACING_TOPICS), min_length=1)

    @field_validator("event_topics")
    @classmethod
    def _not_the_erasure_topic(cls, topics: list[str]) -> list[str]:
        if ANONYMIZATION_EVENTS in topics:
            raise ValueError(f"{ANONYMIZATION_EVENTS} is read by the erasure subscription, not fanned out")
        return topics

    # Delays after the 1st, 2nd, ... failed attempt; when spent, the message is marked failed.
    retry_schedule_seconds: list[float] = Field(default=[5, 300, 1800, 7200, 18000, 36000, 36000], min_length=1)
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    total_timeout_seconds: float = Field(default=15.0, gt=0)
    sender_batch_size: int = Field(default=100, ge=1)
    # Messages in hand at once per instance: being sent (each endpoint's at most `endpoint_concurrency`)
    # or having their attempt recorded, which under load takes about as long as the request; room for
    # both, so recording does not hold requests back (bench/README.md, eighth round).
    sender_concurrency: int = Field(default=100, ge=1)
    sender_poll_interval_seconds: float = Field(default=0.25, gt=0)
    # A claimed message is claimed again by any sender once its lease ends: the total timeout plus
    # this margin (pacing for a rate limit, recording the attempt), so an instance killed mid-send
    # delays its messages by about that much.
    lease_margin_seconds: float = Field(default=30.0, gt=0)

    @property
    def lease(self) -> timedelta:
        """How long a claimed message is this instance's: until its request can no longer be running."""
        return timedelta(seconds=self.total_timeout_seconds + self.lease_margin_seconds)

    # Senders settle attempts concurrently, each in a transaction of its own.
    db_pool_size: int = Field(default=20, ge=2)
    # At most this many requests in flight to one endpoint per instance, so a slow one cannot take
    # every slot.
    endpoint_concurrency: int = Field(default=10, ge=1)
    # An endpoint's connections and pacing state are freed after this long without a request (so a
    # deleted endpoint's are too), unless its breaker rests it.
    endpoint_idle_seconds: float = Field(default=300.0, gt=0)
    # Circuit breaker: after this many consecutive failures an endpoint rests for the cool-down
    # before the next try (its messages wait; they are not spent).
    breaker_failures: int = Field(default=5, ge=1)
    breaker_cooldown_seconds: float = Field(default=30.0, gt=0)
    # An endpoint failing without a single success for this long is disabled.
    disable_after_failing_seconds: float = Field(default=5 * 24 * 3600, gt=0)
    # During a rotation the previous secret still signs (a second signature) this long.
    secret_rotation_grace_seconds: float = Field(default=24 * 3600, ge=0)
    # How often an endpoint reported failing is checked for a delivery since (webhook.endpoint.recovered).
    recovery_check_interval_seconds: float = Field(default=5.0, gt=0)
    # Payloads and attempts older than this are purged.
    retention_days: float = Field(default=30, gt=0)
    retention_interval_seconds: float = Field(default=3600, gt=0)
    # SSRF: destinations in these subnets are allowed although not public. The local default allows
    # loopback for development and tests; production deployments must set this to `[]`.
    allowed_subnets: Annotated[list[IPv4Network | IPv6Network], SET_WHEN_DEPLOYED] = Field(default_factory=_loopback)
    require_https: bool = False
