"""Which orders a list or count asks for (the filters every dialect's queries translate into), and which
page of them a list shows."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal


@dataclass(frozen=True, slots=True)
class OrderQuery:
    """Filters every dialect's list and count share; each is ANDed, None means no filter."""

    ids: Sequence[int] | None = None
    statuses: Sequence[str] | None = None
    financial_statuses: Sequence[str] | None = None
    fulfillment_statuses: Sequence[str | None] | None = None  # None inside: not fulfilled at all
    states: Sequence[str] | None = None
    upstream_ids: Sequence[str] | None = None
    customer_id: int | None = None
    checkout_id: str | None = None
    application_id: str | None = None
    email: str | None = None
    currency: str | None = None
    sku: str | None = None
    fraud_state: str | None = None
    browser_ip: str | None = None
    charge_type: str | None = None
    subscription_id: str | None = None
    refunded_amount: Decimal | None = None
    locale: str | None = None
    customer_type: str | None = None
    created_at_min: datetime | None = None
    created_at_max: datetime | None = None
    updated_at_min: datetime | None = None
    updated_at_max: datetime | None = None
    processed_at_min: datetime | None = None
    processed_at_max: datetime | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """Which of the matching orders a list shows: `limit` of them by id in `direction`, between the
    exclusive keyset bounds `after_id` / `before_id`, after skipping `offset` (page-numbered dialects)."""

    limit: int
    direction: Literal["asc", "desc"] = "desc"
    after_id: int | None = None
    before_id: int | None = None
    offset: int = 0
