"""The anonymizer's pure rules: how an email is matched without being kept, what an order's erasure
is, which receipts it still misses and when it is due, when a request is complete (its orders and the
customer records it asked for), and from when retention erases an order."""

import hashlib
import hmac
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from shared.erasure import MASK

ErasureState = Literal["waiting", "erasing", "overdue", "complete"]
# A customer record a customer erasure asked order_api to erase: waiting for its answer, or erased
# (order_api's `customer.erased` is in).
CustomerState = Literal["waiting", "erased"]
# Who asked: a customer's erasure (POST /erasures), a forget request on the order (Digital River's
# requestToBeForgotten), the order alone (the Elastic Path route, seen as its `order.anonymized`), or
# the retention policy (ANONYMIZER_RETENTION_DAYS: one request per sweep, over the orders it took).
RequestKind = Literal["customer", "forget", "order", "retention"]


def email_hash(key: bytes, email: str | None) -> bytes | None:
    """The keyed hash that finds a person's orders by email: HMAC-SHA256 of the trimmed, lower-cased
    address; None for no address (absent, blank or already masked)."""
    normalized = (email or "").strip().lower()
    if not normalized or normalized == MASK:
        return None
    return hmac.new(key, normalized.encode(), hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class KnownOrder:
    """The anonymizer's copy of an order: whose it is, as a hash and a customer id, nothing more."""

    order_id: int
    sequence: int
    email_hash: bytes | None
    customer_id: int | None
    anonymized: bool
    eligible_since: datetime | None  # order_api's word: since when it may be anonymized (None: not now)


def retention_cutoff(now: datetime, days: float) -> datetime:
    """Retention erases an order eligible since this time or earlier: `days` (fractions allowed; 0 is as
    soon as it is eligible) before `now`."""
    return now - timedelta(days=days)


@dataclass(frozen=True, slots=True)
class OrderErasure:
    """One order's erasure: the receipts it waits for, its current attempt and deadline."""

    erasure_id: uuid.UUID
    order_id: int
    state: ErasureState
    services: tuple[str, ...]
    customer_id: int | None
    anonymized_sequence: int | None
    attempt: int
    requested_at: datetime | None
    deadline_at: datetime | None
    completed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    """A service's answer: what it erased of the order, by table."""

    erasure_id: uuid.UUID
    order_id: int
    service: str
    rows: dict[str, int]
    attempt: int
    received_at: datetime


def opened(
    order_id: int,
    anonymized_sequence: int,
    customer_id: int | None,
    services: Iterable[str],
    *,
    now: datetime,
    deadline: timedelta,
) -> OrderErasure:
    """A new erasure for an order just anonymized: erasing, first attempt, due at now + deadline."""
    return OrderErasure(
        erasure_id=uuid.uuid4(),
        order_id=order_id,
        state="erasing",
        services=tuple(dict.fromkeys(services)),
        customer_id=customer_id,
        anonymized_sequence=anonymized_sequence,
        attempt=1,
        requested_at=now,
        deadline_at=now + deadline,
    )


def missing(erasure: OrderErasure, receipts: Iterable[Receipt]) -> list[str]:
    """The services whose receipt is not in yet, in the configured order."""
    answered = {receipt.service for receipt in receipts}
    return [service for service in erasure.services if service not in answered]


def completed(erasure: OrderErasure, now: datetime) -> OrderErasure:
    return replace(erasure, state="complete", completed_at=now)


def next_attempt(erasure: OrderErasure, now: datetime, deadline: timedelta) -> OrderErasure:
    """The erasure once its deadline passed with receipts missing: overdue, asked again now."""
    return replace(erasure, state="overdue", attempt=erasure.attempt + 1, requested_at=now, deadline_at=now + deadline)


def waiting(order_id: int, customer_id: int | None) -> OrderErasure:
    """The erasure of an order asked for but not anonymized yet (order_api anonymizes it when it is
    eligible): no receipt is asked for until `order.anonymized` opens it (same id)."""
    return OrderErasure(
        erasure_id=uuid.uuid4(),
        order_id=order_id,
        state="waiting",
        services=(),
        customer_id=customer_id,
        anonymized_sequence=None,
        attempt=1,
        requested_at=None,
        deadline_at=None,
    )


@dataclass(frozen=True, slots=True)
class ErasureRequest:
    """What someone asked to erase, and how far it is: its status follows its orders' states."""

    id: uuid.UUID
    kind: RequestKind
    status: ErasureState
    created_at: datetime
    customer_id: int | None = None
    email_hash: bytes | None = None
    completed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CustomerErasure:
    """A customer record a request asked order_api to erase, and order_api's answer once it is in: when,
    and the records masked by table ({"customers": 0}: nothing of it was left to erase)."""

    customer_id: int
    erased_at: datetime | None = None
    rows: dict[str, int] | None = None

    @property
    def state(self) -> CustomerState:
        return "waiting" if self.erased_at is None else "erased"


def request_status(orders: Iterable[ErasureState], customers: Iterable[CustomerState] = ()) -> ErasureState:
    """A request's status from its orders' states and its customer records': complete when every order
    is and every customer record is erased (a request that found neither is complete at once), else
    overdue when an order is, else erasing when one is, else waiting (a customer record not erased yet
    counts as a waiting order)."""
    found: list[ErasureState] = [*orders, *("complete" if state == "erased" else "waiting" for state in customers)]
    if all(state == "complete" for state in found):
        return "complete"
    if "overdue" in found:
        return "overdue"
    return "erasing" if "erasing" in found else "waiting"


@dataclass(frozen=True, slots=True)
class RequestQuery:
    """A page of requests, newest first: of `status` if given, after the keyset position `before`
    ((created_at, id) of the last one seen), at most `limit`."""

    status: ErasureState | None = None
    before: tuple[datetime, uuid.UUID] | None = None
    limit: int = 50
