"""Dead letters as read from a dead-letter topic: what each holds, and reading them all or one."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import for_code

from shared.topics import (
    DLQ_ERROR,
    DLQ_FAILED_AT,
    DLQ_HEADER_PREFIX,
    DLQ_ORIGINAL_PARTITION,
    DLQ_ORIGINAL_TOPIC,
    DLQ_SUFFIX,
    EVENT_TOPICS,
    dlq,
)


class DlqError(Exception):
    """What the operator asked for cannot be done (an unknown topic, no such dead letter)."""


def dead_letter_topic(name: str) -> str:
    """The dead-letter topic an operator means by `name`: an event topic or its `.dlq` topic."""
    topic = name.removesuffix(DLQ_SUFFIX)
    if topic not in EVENT_TOPICS:
        raise DlqError(f"unknown topic {name!r}: name one of {', '.join(EVENT_TOPICS)} (or its {DLQ_SUFFIX} topic)")
    return dlq(topic)


def parse_position(text: str) -> tuple[int, int]:
    """`PARTITION:OFFSET` (as `list` prints a dead letter) as numbers."""
    partition, colon, offset = text.partition(":")
    if not (colon and partition.isdigit() and offset.isdigit()):
        raise DlqError(f"name a dead letter as PARTITION:OFFSET, such as 3:17 (as `list` prints it); got {text!r}")
    return int(partition), int(offset)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str  # the dead-letter topic
    partition: int
    offset: int
    timestamp: datetime  # when it was written to the dead-letter topic
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    @classmethod
    def of(cls, record: Any) -> "DeadLetter":
        return cls(
            record.topic,
            record.partition,
            record.offset,
            datetime.fromtimestamp(record.timestamp / 1000, UTC),
            record.key,
            record.value or b"",
            tuple(record.headers or ()),
        )

    @property
    def position(self) -> str:
        return f"{self.partition}:{self.offset}"

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode(errors="replace")
        return None

    @property
    def original_topic(self) -> str:
        return self.header(DLQ_ORIGINAL_TOPIC) or self.topic.removesuffix(DLQ_SUFFIX)

    @property
    def original_partition(self) -> int | None:
        partition = self.header(DLQ_ORIGINAL_PARTITION)
        return int(partition) if partition is not None and partition.isdigit() else None

    @property
    def event_type(self) -> str:
        return self.header("ce_type") or "<none>"

    @property
    def failed_at(self) -> datetime:
        """When the consumer gave up on it (the `dlq_failed_at` header, else the record's time)."""
        failed_at = self.header(DLQ_FAILED_AT)
        try:
            return datetime.fromisoformat(failed_at) if failed_at else self.timestamp
        except ValueError:
            return self.timestamp

    @property
    def own_headers(self) -> list[tuple[str, bytes]]:
        """The message's headers as the consumer received them: without the dead-lettering's."""
        return [(name, value) for name, value in self.headers if not name.startswith(DLQ_HEADER_PREFIX)]

    def summary(self) -> str:
        """One line for `list`."""
        error = (self.header(DLQ_ERROR) or "").replace("\n", " ")
        return (
            f"{self.position:>10}  {self.failed_at.isoformat(timespec='seconds')}  {self.event_type:<28} "
            f"key={(self.key or b'').decode(errors='replace')}  {error[:100]}"
        )

    def details(self) -> str:
        """Everything, for `show`: the headers, the key and the value (JSON indented)."""
        lines = [f"{self.topic} {self.position}, written {self.timestamp.isoformat()}"]
        lines.append(f"key: {(self.key or b'').decode(errors='replace')}")
        lines.extend(f"header {name}: {value.decode(errors='replace')}" for name, value in self.headers)
        try:
            body = json.dumps(json.loads(self.value), indent=2, ensure_ascii=False)
        except ValueError:
            body = self.value.decode(errors="replace")
        lines.append("value:")
        lines.append(body)
        return "\n".join(lines)


async def read_dead_letters(bootstrap: str, topic: str, partition: int | None = None) -> list[DeadLetter]:
    """Every dead letter of `topic` there is now (of one partition, if named), in partition and offset order."""
    partitions = await _partitions(bootstrap, topic)
    if partition is not None:
        if partition not in partitions:
            raise DlqError(f"{topic} has no partition {partition} (it has {len(partitions)})")
        partitions = [partition]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, number) for number in partitions]
        consumer.assign(assigned)
        # Explicit offsets: a position asked for right after `assign` may race the consumer's own reset.
        begins, ends = await consumer.beginning_offsets(assigned), await consumer.end_offsets(assigned)
        for tp in assigned:
            consumer.seek(tp, begins[tp])
        letters: list[DeadLetter] = []
        waiting = {tp for tp in assigned if begins[tp] < ends[tp]}
        while waiting:
            batches = await consumer.getmany(*waiting, timeout_ms=1000)
            for tp, records in batches.items():
                letters.extend(DeadLetter.of(record) for record in records if record.offset < ends[tp])
            waiting = {tp for tp in waiting if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    return sorted(letters, key=lambda letter: (letter.partition, letter.offset))


async def _partitions(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="deploy.dlq")
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described["error_code"]:
        raise DlqError(f"topic {topic}: {for_code(described['error_code']).__name__} (run python -m deploy.provision)")
    return sorted(partition["partition"] for partition in described["partitions"])


async def read_dead_letter(bootstrap: str, topic: str, partition: int, offset: int) -> DeadLetter:
    """The dead letter at `partition:offset` of `topic`."""
    for letter in await read_dead_letters(bootstrap, topic, partition):
        if letter.offset == offset:
            return letter
    raise DlqError(f"{topic} has no dead letter at {partition}:{offset} (deleted by retention, or never written)")
