"""Cancelling orders and refunding them (Haravan `cancel.json` and `refunds.json`), and waiting for a
refund to settle (`Prefer: wait`).

Each change runs under the order's row lock, so the refunds it creates are quoted against every refund
made before it, pending ones included: twenty full refunds of one order at once make one refund and
nineteen refusals. The money itself moves later: the cancellation worker reads the pending refund from
the change's event, the payment service answers, and the fact service settles the refund.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from services.order_api.domain.cancellation import CancelRequest, cancel_order
from services.order_api.domain.refunds import (
    RefundDetails,
    RefundRequest,
    cancel_units,
    quote_request,
    refund_of,
    with_refund,
)
from services.order_api.domain.stored import StoredOrder
from services.order_api.service.errors import OrderNotFound
from services.order_api.service.lifecycle import as_seen, lock_order, lock_order_with_id, save_change, utc_now
from services.order_api.service.ports import Database
from shared.orders import OrderSnapshot, Refund
from shared.refund_math import RefundQuote

# How often a wait looks at the order: soon at first (a sandbox answers within a second), then less.
_FIRST_LOOK_SECONDS: Final = 0.05
_LONGEST_LOOK_SECONDS: Final = 0.5


@dataclass(frozen=True, slots=True)
class Refunded:
    """What a change made: the order as its caller may see it, and its new refund (None without one)."""

    stored: StoredOrder
    refund: Refund | None


class RefundService:
    def __init__(self, database: Database, *, max_event_bytes: int, clock: Callable[[], datetime] = utc_now) -> None:
        self.database = database
        self.max_event_bytes = max_event_bytes
        self.clock = clock

    async def cancel_order(
        self, order_id: int, request: CancelRequest, *, may_read: bool, if_match: int | None = None
    ) -> Refunded:
        """Cancel the order at once, with the refund of what was paid (pending until the worker pays it
        out); `order.cancelled` carries both."""
        async with self.database.transaction() as tables:
            stored, refund_id = await lock_order_with_id(tables, order_id, if_match)
            cancelled = cancel_order(stored.order, request, refund_id, self.clock())
            changed = await save_change(tables, "order.cancelled", cancelled, self.max_event_bytes)
        refund = next((one for one in changed.order.refunds if one.id == refund_id), None)
        return Refunded(as_seen(changed, may_read), refund)

    async def quote_refund(self, order_id: int, request: RefundRequest) -> tuple[OrderSnapshot, RefundQuote]:
        """The order, and what the refund would be; nothing is written."""
        async with self.database.statements() as tables:
            stored = await tables.orders.fetch(order_id)
        if stored is None:
            raise OrderNotFound(order_id)
        return stored.order, quote_request(stored.order, request)

    async def create_refund(
        self, order_id: int, request: RefundRequest, *, may_read: bool, if_match: int | None = None
    ) -> Refunded:
        """Open the refund (pending while it has money to pay back) and publish `order.refund_requested`.
        Units refunded with restock type `cancel` are cancelled: they will not be shipped."""
        async with self.database.transaction() as tables:
            stored = await lock_order(tables, order_id, if_match)
            quoted = quote_request(stored.order, request)
            now = self.clock()
            details = RefundDetails(
                await tables.orders.next_object_id(),
                now,
                note=request.note,
                notify=request.notify,
                restock=any(line.restock_type != "no_restock" for line in request.lines),
            )
            refund = refund_of(quoted, details, {line.line_item_id: line.restock_type for line in request.lines})
            cancelled = {line.line_item_id: line.quantity for line in request.lines if line.restock_type == "cancel"}
            order = with_refund(cancel_units(stored.order, cancelled), refund).model_copy(update={"updated_at": now})
            changed = await save_change(tables, "order.refund_requested", order, self.max_event_bytes)
        return Refunded(as_seen(changed, may_read), refund)

    async def wait_until_settled(self, order_id: int, refund_id: int, seconds: float, *, may_read: bool) -> StoredOrder:
        """The order once its refund `refund_id` is no longer pending, or as it stands after `seconds`.
        It looks at the order now and then (more often at first); it holds no connection meanwhile."""
        deadline = asyncio.get_running_loop().time() + seconds
        pause = _FIRST_LOOK_SECONDS
        while True:
            async with self.database.statements() as tables:
                stored = await tables.orders.fetch(order_id)
            if stored is None:
                raise OrderNotFound(order_id)
            refund = next((one for one in stored.order.refunds if one.id == refund_id), None)
            left = deadline - asyncio.get_running_loop().time()
            if refund is None or refund.status != "pending" or left <= 0:
                return as_seen(stored, may_read)
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, _LONGEST_LOOK_SECONDS)
