"""Guest cancellation requests (Akinon): accepted against the guest's own order, in one transaction with
the items' flags and the two events that announce them.

`order.cancellation_requested` (orders.events, fanned out to webhooks) carries the order, which holds no
bank account; `cancellation.submitted` (cancellations.requests, read only by the cancellation worker)
carries the request in full, the IBAN and holder's name included.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.order_api.domain.guest_requests import RequestedItem, accept_requests, bank_account
from services.order_api.service.lifecycle import save_change, utc_now
from services.order_api.service.ports import Database
from shared.cancellations import CancellationSubmitted
from shared.events import Event
from shared.logging import current_correlation_id
from shared.services import ORDER_API
from shared.topics import CANCELLATIONS_REQUESTS


@dataclass(frozen=True, slots=True)
class GuestRequest:
    """What a guest asks: their order (number and exact email), its items, and how to pay back."""

    order_number: int
    email: str
    items: Sequence[RequestedItem]
    iban: str | None = None
    holder_name: str | None = None
    pickup_address_id: int | None = None
    fully_refund_as_loyalty_money: bool = False


class GuestRequests:
    def __init__(self, database: Database, *, max_event_bytes: int, clock: Callable[[], datetime] = utc_now) -> None:
        self.database = database
        self.max_event_bytes = max_event_bytes
        self.clock = clock

    async def submit(self, request: GuestRequest) -> CancellationSubmitted | None:
        """Accept every item of the request, or none (the first refusal raises); None when there is no
        guest order with that number and email, after the same work as the guest lookup's miss."""
        async with self.database.transaction() as tables:
            stored = await tables.orders.fetch_guest(request.order_number, request.email, for_update=True)
            if stored is None:
                return None
            account = bank_account(request.iban, request.holder_name)
            reasons = await tables.reference_data.active_reasons([item.reason_id for item in request.items])
            companies = await tables.reference_data.return_companies(
                [item.shipping_company_id for item in request.items if item.shipping_company_id is not None]
            )
            request_ids = [await tables.orders.next_object_id() for _ in request.items]
            now = self.clock()
            order, items = accept_requests(
                stored.order, request.items, request_ids, now, reasons=reasons, return_companies=companies
            )
            changed = await save_change(tables, "order.cancellation_requested", order, self.max_event_bytes)
            submitted = CancellationSubmitted(
                order_id=order.id,
                items=items,
                bank_account=account,
                pickup_address_id=request.pickup_address_id,
                fully_refund_as_loyalty_money=request.fully_refund_as_loyalty_money,
                submitted_at=now,
                source_name=order.source_name,
            )
            event = Event.new(
                "cancellation.submitted",
                ORDER_API.name,
                str(order.id),
                submitted,
                sequence=changed.sequence,
                correlation_id=current_correlation_id(),
            )
            await tables.outbox.enqueue(CANCELLATIONS_REQUESTS, event)
        return submitted
