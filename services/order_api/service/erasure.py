"""order_api's part of an anonymized order's erasure (design section 5): on the anonymizer's
`erasure.requested`, delete what of the order is kept outside its (masked) row, in the consumer's
transaction, and answer with a receipt through the outbox in that same transaction. A repeated
request erases again (0 rows) and answers again."""

from collections.abc import Callable
from datetime import datetime

from services.order_api.domain.http_guards import RateLimitBuckets
from services.order_api.service.lifecycle import utc_now
from services.order_api.service.ports import Database
from shared.erasure import ErasureRequested
from shared.erasure_receipts import receipt
from shared.logging import get_logger
from shared.services import ORDER_API
from shared.topics import ANONYMIZATION_EVENTS

log = get_logger(__name__)


class ErasureService:
    def __init__(
        self, database: Database, buckets: RateLimitBuckets, *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.database = database
        self.buckets = buckets
        self.clock = clock

    async def erase_order(self, request: ErasureRequested) -> dict[str, int]:
        """Erase the order's copies and publish the receipt; the rows touched, by table."""
        async with self.database.transaction() as tables:
            stored = await tables.orders.fetch(request.order_id)
            buckets = self.buckets.of_number(str(stored.order.order_number)) if stored is not None else None
            rows = await tables.erasures.erase_order(request.order_id, buckets)
            # After the erasure: the receipt's own row is not yet published, and stays.
            await tables.outbox.enqueue(ANONYMIZATION_EVENTS, receipt(request, ORDER_API.name, rows, self.clock()))
        log.info("order erased", order_id=request.order_id, attempt=request.attempt, rows=rows)
        return rows
