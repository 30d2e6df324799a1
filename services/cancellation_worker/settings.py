"""The cancellation worker's settings: the shared ones, its operator API's keys, and how it mails
customers (env prefix CANCELLATION_)."""

from typing import Annotated

from pydantic import Field

from shared.auth import ApiKeySettings
from shared.settings import SET_WHEN_DEPLOYED


class CancellationSettings(ApiKeySettings):
    # An operator's request is a few hundred bytes (a reason, a company, an approval).
    max_body_bytes: int = Field(default=64 * 1024, ge=1)
    # The SMTP server customers' emails go through (the local stack's sink by default).
    smtp_host: Annotated[str, SET_WHEN_DEPLOYED] = "127.0.0.1"
    smtp_port: int = Field(default=8025, ge=1, le=65535)
    smtp_sender: Annotated[str, SET_WHEN_DEPLOYED] = "orders@example.com"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    # The right-hand side of every email's Message-ID: `<kind-ids@message_id_domain>`.
    message_id_domain: str = Field(default="cancellations.orders.local", pattern=r"^[A-Za-z0-9.-]+$")
    # Waits after each failed send of an email the server refused (known not delivered); when spent,
    # the email is failed. A send whose outcome is unknown is never tried again (at most once).
    mail_retry_schedule_seconds: list[float] = Field(default=[5, 60, 300, 1800, 7200], min_length=1)
    mail_concurrency: int = Field(default=10, ge=1)
    mail_poll_interval_seconds: float = Field(default=1.0, gt=0)
    # How long one send may take before its email is claimed again (and then failed: outcome unknown).
    mail_lease_seconds: float = Field(default=60.0, gt=0)
