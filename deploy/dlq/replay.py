"""Replaying dead letters: each one taken back to its original topic and partition, at most once."""

import asyncio
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from aiokafka import AIOKafkaProducer

from deploy.dlq import replays
from deploy.dlq.letters import DeadLetter, read_dead_letters
from shared.db import Connection
from shared.topics import DLQ_REPLAYED_FROM, MAX_DLQ_RECORD_BYTES

# Dead letters claimed, produced and marked together.
CHUNK: Final = 100


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters a replay takes: of one event type, failed since a time; None takes any."""

    event_type: str | None = None
    since: datetime | None = None

    def takes(self, letter: DeadLetter) -> bool:
        if self.event_type is not None and letter.event_type != self.event_type:
            return False
        return self.since is None or letter.failed_at >= self.since


@dataclass(slots=True)
class Summary:
    replayed: list[DeadLetter] = field(default_factory=list)  # or, in a dry run, that would be
    already_replayed: int = 0  # or claimed meanwhile by a replay running at the same time
    filtered: int = 0  # not selected by --type / --since

    def lines(self, *, dry_run: bool) -> list[str]:
        verb = "would replay" if dry_run else "replayed"
        return [
            *(f"{verb} {letter.summary().strip()}" for letter in self.replayed),
            f"{verb}: {len(self.replayed)}, skipped as already replayed: {self.already_replayed}, "
            f"filtered out: {self.filtered}",
        ]


def replayed_copy(letter: DeadLetter) -> tuple[str, int | None, list[tuple[str, bytes]]]:
    """Where a dead letter goes back to (topic, partition) and the headers it goes with: its own and the
    marker naming the dead letter it is a replay of."""
    marker = f"{letter.topic}/{letter.position}".encode()
    return letter.original_topic, letter.original_partition, [*letter.own_headers, (DLQ_REPLAYED_FROM, marker)]


def new_holder() -> str:
    """Who claims in the record: this run of the tool."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def replay(
    bootstrap: str, conn: Connection, topic: str, selection: Selection, *, dry_run: bool = False
) -> Summary:
    """Replay the selected dead letters of the dead-letter topic `topic` not replayed before."""
    letters = await read_dead_letters(bootstrap, topic)
    chosen = [letter for letter in letters if selection.takes(letter)]
    done = await replays.replayed(conn, topic)
    summary = Summary(filtered=len(letters) - len(chosen))
    todo = [letter for letter in chosen if (letter.partition, letter.offset) not in done]
    summary.already_replayed = len(chosen) - len(todo)
    if dry_run:
        summary.replayed = todo
        return summary
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="deploy.dlq",
        acks="all",
        enable_idempotence=True,
        max_request_size=MAX_DLQ_RECORD_BYTES,
    )
    await producer.start()
    try:
        holder = new_holder()
        for start in range(0, len(todo), CHUNK):
            sent = await _replay_chunk(conn, producer, topic, todo[start : start + CHUNK], holder)
            summary.replayed.extend(sent)
            summary.already_replayed += min(CHUNK, len(todo) - start) - len(sent)
    finally:
        await producer.stop()
    return summary


async def _replay_chunk(
    conn: Connection, producer: AIOKafkaProducer, topic: str, letters: Sequence[DeadLetter], holder: str
) -> list[DeadLetter]:
    """Claim, produce (every copy acknowledged) and mark `letters`; those this run replayed."""
    claimed = await replays.claim(
        conn,
        topic,
        [((letter.partition, letter.offset), letter.header("ce_id"), letter.event_type) for letter in letters],
        holder,
    )
    mine = [letter for letter in letters if (letter.partition, letter.offset) in claimed]
    deliveries = []
    for letter in mine:
        original, partition, headers = replayed_copy(letter)
        deliveries.append(
            await producer.send(original, letter.value, key=letter.key, partition=partition, headers=headers)
        )
    await asyncio.gather(*deliveries)
    await replays.mark_replayed(conn, topic, [(letter.partition, letter.offset) for letter in mine], holder)
    return mine
