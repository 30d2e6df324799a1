"""Anonymizing orders: the one use case every door goes through (Elastic Path's route, the anonymizer's
`order.anonymize_requested`); forget-when-eligible takes its one step (`lifecycle.anonymize`) with the
change that makes an order eligible.

All or nothing: one transaction locks every order named (ascending ids, so two overlapping calls never
deadlock), and one unknown or ineligible order refuses the whole call with nothing changed. Each order
not yet anonymized is masked (domain/anonymization.py), stored as its next version and published as
`order.anonymized` with the masked snapshot; an anonymized one is answered as it is, with no event.
"""

from collections.abc import Callable, Sequence
from datetime import datetime

from services.order_api.domain.anonymization import ineligibility
from services.order_api.domain.changes import OrderChanges, update
from services.order_api.domain.stored import StoredOrder, order_id_named
from services.order_api.service.errors import OrdersNotAnonymizable, Refusal
from services.order_api.service.lifecycle import anonymize, lock_order, save_change, utc_now
from services.order_api.service.ports import Database


class AnonymizationService:
    def __init__(self, database: Database, *, max_event_bytes: int, clock: Callable[[], datetime] = utc_now) -> None:
        self.database = database
        self.max_event_bytes = max_event_bytes
        self.clock = clock

    async def anonymize_orders(self, order_ids: Sequence[str]) -> list[StoredOrder]:
        """Anonymize every order named, in one transaction; the orders in the order named (repeats
        answered once). OrdersNotAnonymizable, changing nothing, when any may not be."""
        unique = list(dict.fromkeys(order_ids))
        async with self.database.transaction() as tables:
            found: dict[str, StoredOrder] = {}
            refused: list[Refusal] = []
            ids = {given: order_id_named(given) for given in unique}
            locked = await tables.orders.lock_all([id_ for id_ in ids.values() if id_ is not None])
            for given, id_ in ids.items():
                stored = locked.get(id_) if id_ is not None else None
                if stored is None:
                    refused.append(Refusal(given, "not_found"))
                    continue
                reason = ineligibility(stored.order)
                if reason is not None:
                    refused.append(Refusal(given, reason, stored.order))
                found[given] = stored
            if refused:
                raise OrdersNotAnonymizable(refused)
            return [await anonymize(tables, found[given], self.clock(), self.max_event_bytes) for given in unique]

    async def anonymize_or_wait(self, order_id: int) -> StoredOrder:
        """The anonymizer's `order.anonymize_requested`: anonymize the order now if it is eligible, else
        record that its customer asked to be forgotten (`order.updated`), so that the change that makes
        it eligible anonymizes it (forget-when-eligible). OrderNotFound for an unknown order."""
        async with self.database.transaction() as tables:
            stored = await lock_order(tables, order_id)
            if ineligibility(stored.order) is None:
                return await anonymize(tables, stored, self.clock(), self.max_event_bytes)
            if stored.order.request_to_be_forgotten:  # waiting already: nothing to change
                return stored
            asked = update(stored.order, OrderChanges(request_to_be_forgotten=True), self.clock())
            return await save_change(tables, "order.updated", asked, self.max_event_bytes)
