"""Recording delivered attempts in batches: every delivery that ended while the previous batch's
statement ran goes in the next one, so at a high rate one statement settles many deliveries and at a
low rate a delivery waits for none.

Each caller waits until its own attempt is in Postgres (or the statement failed, which it raises): a
delivery is recorded before its send is forgotten, exactly as when each had a statement of its own.
"""

import asyncio
from typing import Final

from services.webhook_dispatcher.domain import Answer, DeliveredAttempt, Delivery
from services.webhook_dispatcher.service import WebhookService

# At most this many deliveries in one statement.
MAX_BATCH: Final = 200


class DeliveredAttempts:
    """Collects delivered attempts and has the service record them, a batch per statement."""

    def __init__(self, service: WebhookService) -> None:
        self._service = service
        self._waiting: list[tuple[DeliveredAttempt, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, delivery: Delivery, answer: Answer, *, latency_ms: int) -> None:
        """Record one delivered attempt; returns once it is recorded."""
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((DeliveredAttempt(delivery, answer, latency_ms), done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        await done

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                await self._service.record_deliveries([attempt for attempt, _ in batch])
            except Exception as error:  # each sender's own task logs it, as for an attempt of its own
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
