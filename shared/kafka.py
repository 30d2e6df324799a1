"""The Kafka producer every service publishes with: idempotent, `acks=all`, started lazily.

A service must come up and keep answering HTTP while Kafka is away (the outbox holds its events),
so the producer connects in the background and reconnects until it succeeds.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from shared.logging import get_logger
from shared.topics import MAX_DLQ_RECORD_BYTES, max_record_bytes

log = get_logger(__name__)

# How often a consumer refreshes what it knows of the cluster (aiokafka's default: 5 minutes). A member
# that joins while the broker is still loading its partitions (just restarted) is assigned none of a
# topic it knows no partitions of, and only a refresh makes the group rebalance: 5 minutes of nothing
# consumed. A metadata request every 10 s per consumer costs next to nothing.
CONSUMER_METADATA_MAX_AGE_MS = 10_000


def bootstrap_list(servers: str) -> list[str]:
    """`host:port` addresses from a comma-separated KAFKA_BOOTSTRAP_SERVERS (a cluster's several
    brokers). aiokafka splits such a string itself; FastStream's broker takes a string as one address."""
    return [server.strip() for server in servers.split(",") if server.strip()]


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]

    @property
    def size(self) -> int:
        """The record's size as Kafka counts it against a topic's `max.message.bytes`."""
        size: int = DefaultRecordBatchBuilder.estimate_size_in_bytes(self.key, self.value, self.headers)
        return size


class EventProducer:
    def __init__(self, bootstrap_servers: str, client_id: str) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._client_id = client_id
        self._producer: AIOKafkaProducer | None = None
        self._started = asyncio.Event()

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self._bootstrap_servers,
            client_id=self._client_id,
            enable_idempotence=True,  # retries never duplicate or reorder within a partition
            acks="all",
            # No waiting for company: the relay and the DLQ hand over whole batches at once (one request
            # still carries them), and a lone event leaves at once: 2 ms of linger was most of a
            # publish-to-consume hop's 4 ms (1.9-2.6 ms without it; bench.webhook_dispatch's latency).
            linger_ms=0,
            # The largest record of any topic (a dead-letter copy); each record is also checked
            # against its own topic's limit before it is sent (`send_each`).
            max_request_size=MAX_DLQ_RECORD_BYTES,
            request_timeout_ms=15_000,
            retry_backoff_ms=200,
        )

    async def connect(self, retry_seconds: float = 1.0) -> None:
        """Connect, retrying until Kafka answers. Run as a background task."""
        while self._producer is None:
            producer = self._new_producer()
            try:
                await producer.start()
            except KafkaError as error:
                await producer.stop()
                log.warning("kafka not reachable yet, retrying", error=str(error))
                await asyncio.sleep(retry_seconds)
                continue
            self._producer = producer
            self._started.set()
            log.info("kafka producer connected", bootstrap_servers=self._bootstrap_servers)

    async def wait_connected(self) -> AIOKafkaProducer:
        await self._started.wait()
        assert self._producer is not None
        return self._producer

    @property
    def connected(self) -> bool:
        return self._producer is not None

    async def send_all(self, records: Sequence[OutgoingRecord]) -> None:
        """Send records in order and wait until the broker acknowledged every one; raise the first
        failure."""
        for outcome in await self.send_each(records):
            if outcome is not None:
                raise outcome

    async def send_each(self, records: Sequence[OutgoingRecord]) -> list[Exception | None]:
        """Send records in order; per record, None once the broker acknowledged it, else why not.

        A record over its topic's size limit is refused here, before it is sent: the broker would
        refuse it anyway, and an idempotent producer's refused batch can disturb the sequence of
        those after it in the partition.
        """
        producer = await self.wait_connected()
        pending: list[asyncio.Future[object] | Exception] = []
        for record in records:
            try:
                limit = max_record_bytes(record.topic)
                if record.size > limit:
                    raise MessageSizeTooLargeError(
                        f"the record is {record.size} bytes; topic {record.topic} takes at most {limit}"
                    )
                pending.append(await producer.send(record.topic, record.value, key=record.key, headers=record.headers))
            except Exception as error:  # reported per record; the caller decides what it means
                pending.append(error)
        outcomes: list[Exception | None] = []
        for ack in pending:
            if isinstance(ack, Exception):
                outcomes.append(ack)
                continue
            try:
                await ack
            except KafkaError as error:
                outcomes.append(error)
            else:
                outcomes.append(None)
        return outcomes

    async def reachable(self, timeout: float = 2.0) -> bool:
        """Whether the broker answers a metadata request now (readiness)."""
        if self._producer is None:
            return False
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout)
        except (KafkaError, TimeoutError, OSError):
            return False
        return True

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
