"""The anonymizer's settings (env prefix ANONYMIZER_): the shared ones, its API's keys, and the
erasure saga's: which services owe a receipt and how long they have; and the retention policy."""

from typing import Annotated, Final

from pydantic import Field, SecretStr, field_validator

from shared.auth import ApiKeySettings
from shared.services import ANONYMIZER, CANCELLATION_WORKER, ORDER_API, WEBHOOK_DISPATCHER
from shared.settings import SET_WHEN_DEPLOYED, HmacKey

# Every service that holds personal data of an order, so owes a receipt for its erasure.
RECEIPT_SERVICES: Final = [ORDER_API.name, CANCELLATION_WORKER.name, WEBHOOK_DISPATCHER.name, ANONYMIZER.name]


class AnonymizerSettings(ApiKeySettings):
    # The services an erasure waits for (ANONYMIZER_RECEIPT_SERVICES='["order_api", ...]').
    receipt_services: list[str] = Field(default_factory=lambda: list(RECEIPT_SERVICES), min_length=1)
    # A record still missing receipts this long after its request is reported overdue and re-sent.
    receipt_deadline_seconds: float = Field(default=60.0, gt=0)
    # How often the overdue check runs, and how many records one run takes.
    overdue_interval_seconds: float = Field(default=5.0, gt=0)
    overdue_batch_size: int = Field(default=100, ge=1)
    # The key of the emails' HMAC in known_orders (the email itself is never stored): set it outside
    # local development, and keep it, or earlier hashes stop matching.
    email_hash_key: Annotated[HmacKey, SET_WHEN_DEPLOYED] = SecretStr("local-email-hash-key")
    # Retention: every order is anonymized this many days (fractions allowed; 0: as soon as it is) after
    # order_api says it became eligible. Unset: off, orders are anonymized only when someone asks.
    retention_days: float | None = Field(default=None, ge=0)
    # How many orders one sweep asks for at most, and how often the sweep runs.
    retention_batch_size: int = Field(default=100, ge=1)
    retention_interval_seconds: float = Field(default=60.0, gt=0)

    @field_validator("receipt_services")
    @classmethod
    def _known_services(cls, services: list[str]) -> list[str]:
        """A name no service answers to would leave every erasure overdue for good: refused at start."""
        unknown = [name for name in services if name not in RECEIPT_SERVICES]
        if unknown or len(set(services)) != len(services):
            raise ValueError(f"name each of {', '.join(RECEIPT_SERVICES)} at most once; got {services}")
        return services
