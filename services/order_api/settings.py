"""order_api's settings: the shared ones, API keys, and its HTTP limits (env prefix ORDER_API_)."""

from typing import Annotated

from pydantic import Field, SecretStr

from services.order_api.domain.http_guards import RateLimitBuckets
from shared.idempotency import IdempotencySettings
from shared.settings import SET_WHEN_DEPLOYED, HmacKey


class OrderApiSettings(IdempotencySettings):  # API keys, and Idempotency-Keys' lifetime
    # A change whose event (the whole order as JSON) would be larger than this is refused (422
    # order_too_large). Below the topic's max.message.bytes (1 MiB by default) with room for the
    # record's key, headers and overhead, so that every event order_api accepts can be published.
    max_event_bytes: int = Field(default=1_000_000, ge=1)
    # Guest (Akinon) lookups: at most this many attempts per client IP, and per order number from one
    # client IP, in each window; the limits hold across instances (counted in Postgres). The number's
    # count is per client so that nobody can lock a customer out of their own order's lookup.
    guest_lookups_per_ip: int = Field(default=10, ge=1)
    guest_lookups_per_number_and_client: int = Field(default=10, ge=1)
    guest_lookup_window_seconds: int = Field(default=60, ge=1)
    # Access token requests (POST /oauth/access_token): at most this many failed ones (invalid_client, a
    # wrong API key) per client IP in each window; beyond, every request from that IP is refused (429)
    # until the window ends, its credentials unchecked. Requests that get a token are not counted.
    token_failures_per_client: int = Field(default=10, ge=1)
    token_failure_window_seconds: int = Field(default=60, ge=1)
    # The key of the HMAC that names those limits' buckets (never the client's IP itself): set it
    # outside local development. Changing it only restarts the windows in progress.
    rate_limit_hash_key: Annotated[HmacKey, SET_WHEN_DEPLOYED] = SecretStr("local-rate-limit-hash-key")
    # HTTP worker processes (ORDER_API_WORKERS): one saturates a core; the outbox relay leads in one.
    workers: int = Field(default=1, ge=1)
    # Access tokens (POST /oauth/access_token) stand for their API key this long; Elastic Path's last an hour.
    access_token_ttl_seconds: int = Field(default=3600, ge=1, le=24 * 3600)
    # Expired idempotency keys and finished rate-limit windows are deleted this often.
    purge_interval_seconds: float = Field(default=3600.0, gt=0)
    # The order changes recorded for the counts by status are folded into them this often: a count reads
    # the changes not folded yet too, so the longer the interval the more it reads (never a wrong count).
    count_fold_interval_seconds: float = Field(default=1.0, gt=0)

    def rate_limit_buckets(self) -> RateLimitBuckets:
        """The rate-limit buckets' names (guest attempts, failed token requests) under this instance's key."""
        return RateLimitBuckets(self.rate_limit_hash_key.get_secret_value().encode())
