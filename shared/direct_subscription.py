"""A batched subscription polled with aiokafka directly, for a consumer whose latency is its product (the
webhook dispatcher's fan-out: bench/webhook_dispatch.py measures event-to-receipt).

Through FastStream a batch cost about 0.8 ms of CPU before the handler saw it (its parser, middlewares
and dependency injection), the next poll waited for the batch's offset commit (a broker round trip,
6 ms on a loaded machine), and an empty poll was followed by a sleep as long as its wait, which a record
arriving meanwhile waited out. Here a poll returns as soon as a record is there, the records go to
`process` as they came (headers undecoded, as `IdempotentConsumer` wants them), and the batch's offsets
are committed in the background while the next poll waits:

- **Offsets.** Committed explicitly, each partition's after its last record of the batch, and only once
  `process` returned, i.e. after the batch's transaction committed; a batch's offsets wait
  `COMMIT_SPACING_SECONDS` and go with those of the batches done meanwhile. A commit that fails (a rebalance moved the
  partition meanwhile) is logged: the records come again and are skipped as duplicates.
- **Errors.** `process` raising (the database away) rewinds each partition to the batch's first record,
  so nothing is committed past an unprocessed record and the batch is polled again.
- **Start and stop.** `run` waits for Kafka like the FastStream broker does; `stop` lets the batch in hand
  finish and its offsets be committed, then leaves the group.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from itertools import chain
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from shared.kafka import CONSUMER_METADATA_MAX_AGE_MS, bootstrap_list
from shared.logging import get_logger
from shared.settings import ServiceSettings

log = get_logger(__name__)

# How long an empty poll waits for records (a record arriving ends the wait at once): the longest a stop
# waits for the poll in hand.
POLL_MS: Final = 200
# How long a batch's offsets wait to be committed with those of the batches after it. A commit is a
# write to the broker's offsets topic: one per batch (up to 50 a second at 200 events/s) kept the broker
# busy just as the batch's requests went out, and cost the machine CPU. A crash redelivers at most this
# much more, which the idempotent consumer skips as duplicates.
COMMIT_SPACING_SECONDS: Final = 0.1
# Between two attempts to join the group while Kafka is away.
RETRY_SECONDS: Final = 1.0

Records = Sequence[ConsumerRecord[Any, Any]]


class DirectSubscription:
    """`topics` consumed in `settings.consumer_group`, up to `max_records` records per poll handed to
    `process`, one batch at a time."""

    def __init__(
        self,
        settings: ServiceSettings,
        client_id: str,
        topics: Sequence[str],
        process: Callable[[Records], Awaitable[None]],
        max_records: int,
    ) -> None:
        self._settings = settings
        self._client_id = client_id
        self._topics = list(topics)
        self._process = process
        self._max_records = max_records
        self._stopping = asyncio.Event()
        self._done = asyncio.Event()
        self._to_commit: dict[TopicPartition, OffsetAndMetadata] = {}
        self._committer: asyncio.Task[None] | None = None

    def _new_consumer(self) -> AIOKafkaConsumer:
        settings = self._settings
        return AIOKafkaConsumer(
            *self._topics,
            bootstrap_servers=bootstrap_list(settings.kafka_bootstrap_servers),
            client_id=self._client_id,
            group_id=settings.consumer_group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            metadata_max_age_ms=CONSUMER_METADATA_MAX_AGE_MS,
            session_timeout_ms=round(settings.consumer_session_timeout_seconds * 1000),
            heartbeat_interval_ms=round(settings.consumer_heartbeat_seconds * 1000),
        )

    async def run(self) -> None:
        """Consume until `stop` (or cancelled)."""
        try:
            consumer = await self._started()
            if consumer is None:
                return
            try:
                await self._consume(consumer)
            finally:
                if self._committer is not None:
                    await self._committer
                await consumer.stop()
        finally:
            self._done.set()

    async def stop(self) -> None:
        """Finish the batch in hand, commit its offsets and leave the group."""
        self._stopping.set()
        await self._done.wait()

    async def _started(self) -> AIOKafkaConsumer | None:
        while not self._stopping.is_set():
            consumer = self._new_consumer()
            try:
                await consumer.start()
            except (KafkaError, OSError) as error:
                log.warning("kafka not reachable for consumers yet, retrying", error=str(error), topics=self._topics)
                await consumer.stop()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), RETRY_SECONDS)
                continue
            log.info("kafka consumer started", topics=self._topics)
            return consumer
        return None

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        while not self._stopping.is_set():
            try:
                batches = await consumer.getmany(timeout_ms=POLL_MS, max_records=self._max_records)
            except KafkaError as error:
                log.warning("kafka poll failed, polling again", error=str(error))
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if not batches:
                continue
            try:
                await self._process(tuple(chain.from_iterable(batches.values())))
            except Exception as error:
                # Nothing past an unprocessed record is committed: the batch is polled again, after a pause
                # (what fails a whole batch is the database away: `process` isolates a poison record), and
                # only on the partitions still this member's (a rebalance may have moved some meanwhile).
                log.warning("batch not processed; it is polled again", error=repr(error))
                assigned = consumer.assignment()
                for partition, records in batches.items():
                    if partition in assigned:
                        consumer.seek(partition, records[0].offset)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), RETRY_SECONDS)
                continue
            self._to_commit.update(
                (partition, OffsetAndMetadata(records[-1].offset + 1, "")) for partition, records in batches.items()
            )
            if self._committer is None or self._committer.done():
                self._committer = asyncio.create_task(self._commit(consumer))

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        # A stop does not wait the spacing out.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), COMMIT_SPACING_SECONDS)
        while self._to_commit:
            offsets, self._to_commit = self._to_commit, {}
            try:
                await consumer.commit(offsets)
            except KafkaError as error:
                log.warning("offset commit failed; those records come again, as duplicates", error=str(error))
