"""Consumer lag: how many records of each partition a service's consumer group has not committed yet.

Read from Kafka as the group sees it, not from this instance's consumers: the group's committed offsets
(the admin API) against each partition's end offset. Every instance of a service then reports the same
view of the whole group, its partitions owned by any instance or by none (mid-rebalance, or a member
that hangs): the records a crash would hand to another instance are exactly these, and it is the lag
KEDA's Kafka trigger scales on. Several instances report the same series (told apart by Prometheus'
`instance` label): aggregate them with `max by (group, topic, partition)`, never `sum`. A partition the
group has never committed on counts from its first retained record (`auto_offset_reset=earliest`).
"""

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from prometheus_client import Gauge

from shared.logging import get_logger

log = get_logger(__name__)

LAG = Gauge(
    "kafka_consumer_lag_messages",
    "Records of a partition the consumer group has not committed yet (end offset - committed offset)",
    ["group", "topic", "partition"],
)


@dataclass(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    messages: int


def lag_of(committed: int | None, first: int, end: int) -> int:
    """A partition's lag: what lies between the group's position and the end. No commit (None, or
    Kafka's -1) or one below the first retained record means the group starts at the first one."""
    position = first if committed is None or committed < first else committed
    return max(end - position, 0)


class ConsumerLag:
    """Reads a consumer group's lag on some topics; `export` puts it on /metrics."""

    def __init__(self, bootstrap_servers: str, group: str, topics: Iterable[str]) -> None:
        self._group = group
        self._topics = sorted(set(topics))
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id=f"{group}-lag")
        # No group: it only reads partitions' first and end offsets, never joins or commits.
        self._offsets = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, client_id=f"{group}-lag", group_id=None)

    async def start(self) -> None:
        await self._admin.start()
        await self._offsets.start()

    async def close(self) -> None:
        await self._offsets.stop()
        await self._admin.close()

    async def read(self) -> list[PartitionLag]:
        partitions = [
            TopicPartition(described["topic"], partition["partition"])
            for described in await self._admin.describe_topics(self._topics)
            for partition in sorted(described["partitions"], key=lambda partition: partition["partition"])
        ]
        committed = {
            tp: entry.offset
            for tp, entry in (await self._admin.list_consumer_group_offsets(self._group, partitions=partitions)).items()
        }
        first = await self._offsets.beginning_offsets(partitions)
        end = await self._offsets.end_offsets(partitions)
        return [
            PartitionLag(tp.topic, tp.partition, lag_of(committed.get(tp), first[tp], end[tp])) for tp in partitions
        ]

    def export(self, lags: Iterable[PartitionLag]) -> None:
        for lag in lags:
            LAG.labels(self._group, lag.topic, str(lag.partition)).set(lag.messages)


async def report_consumer_lag(bootstrap_servers: str, group: str, topics: Iterable[str], interval: float) -> None:
    """Export the group's lag every `interval` seconds until cancelled. While Kafka is away the last
    reading stays (readiness says Kafka is away) and the clients are made anew for the next try."""
    topics = list(topics)
    while True:
        lag = ConsumerLag(bootstrap_servers, group, topics)
        try:
            await lag.start()
            while True:
                lag.export(await lag.read())
                await asyncio.sleep(interval)
        except (KafkaError, OSError) as error:
            log.warning("consumer lag unreadable, retrying", group=group, error=repr(error))
        finally:
            await lag.close()
        await asyncio.sleep(interval)
