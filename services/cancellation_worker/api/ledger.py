"""The refund ledger: an order's entries, an operator's retry of a failed refund, a customer's
loyalty money."""

import dataclasses
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Final

from pydantic import BaseModel

from services.cancellation_worker.api.common import Refunds, operator_router, refusals
from services.cancellation_worker.domain.ledger import LedgerEntry, PaymentKind
from shared.cancellations import LedgerStatus, RefundMethod
from shared.fields import BigintId
from shared.problems import problem_responses

router = operator_router("refund ledger")

_RETRY: Final = problem_responses(
    {
        404: "No such order, or no such refund on it (`order_not_found`, `refund_not_found`)",
        409: "The refund's last attempt did not fail, or it would exceed what was captured",
    }
)


class LedgerEntryOut(BaseModel):
    entry_id: uuid.UUID
    idempotency_key: uuid.UUID
    entry_type: LedgerStatus
    refund_id: int | None
    kind: PaymentKind
    method: RefundMethod
    amount: Decimal
    currency: str
    error: str | None
    created_at: datetime

    @classmethod
    def of(cls, entry: LedgerEntry) -> "LedgerEntryOut":
        return cls(**{name: getattr(entry, name) for name in cls.model_fields})


class LedgerOut(BaseModel):
    order_id: int
    entries: list[LedgerEntryOut]


class LoyaltyCreditOut(BaseModel):
    order_id: int
    ledger_entry_id: uuid.UUID
    amount: Decimal
    currency: str
    balance: Decimal
    created_at: datetime


class LoyaltyOut(BaseModel):
    customer_id: int
    balances: dict[str, Decimal]
    credits: list[LoyaltyCreditOut]


@router.get("/orders/{order_id}/ledger", response_model=LedgerOut, responses=problem_responses({404: "No such order"}))
async def order_ledger(order_id: BigintId, service: Refunds) -> LedgerOut:
    """Every entry of the order's refund ledger, oldest first: each attempt (`requested`, its id the
    idempotency key the payment service saw) and its answer (`succeeded` or `failed`, same key)."""
    with refusals():
        entries = await service.ledger(order_id)
    return LedgerOut(order_id=order_id, entries=[LedgerEntryOut.of(entry) for entry in entries])


@router.post(
    "/orders/{order_id}/refunds/{refund_id}/retry", status_code=202, response_model=LedgerEntryOut, responses=_RETRY
)
async def retry_refund(order_id: BigintId, refund_id: BigintId, service: Refunds) -> LedgerEntryOut:
    """Send a failed refund again: a new attempt with a new idempotency key, for the same refund."""
    with refusals():
        return LedgerEntryOut.of(await service.retry(order_id, refund_id))


@router.get("/customers/{customer_id}/loyalty", response_model=LoyaltyOut)
async def customer_loyalty(customer_id: BigintId, service: Refunds) -> LoyaltyOut:
    """The customer's loyalty money: the balance per currency and every credit."""
    credits = [LoyaltyCreditOut(**dataclasses.asdict(credit)) for credit in await service.loyalty(customer_id)]
    balances = {credit.currency: credit.balance for credit in credits}
    return LoyaltyOut(customer_id=customer_id, balances=balances, credits=credits)
