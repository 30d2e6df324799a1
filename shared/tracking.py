"""The idempotent consumer's tracking records (shared/consumer.py): one `processed_events` row per event
applied, written with its effect, atomically: in the effect's transaction, or in the effect's own
statement (a `StatementHandler`, shared/consumer_handlers.py). A redelivered event finds its row and is
skipped."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class Tracked(Protocol):
    """What a tracking row keeps of an event."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def type(self) -> str: ...


class Position(Protocol):
    """Where a record was read: what a tracking row keeps of it."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Tracking:
    """The tracking rows of `events`, each read at its record's position (`records`, in step)."""

    records: Sequence[Position]
    events: Sequence[Tracked]

    @staticmethod
    def insert(first: int = 1, *, where: str = "true") -> str:
        """The INSERT of the rows, a statement or a WITH query's part, its parameters (`arguments`) numbered
        from `first`, none inserted where `where` is false. RETURNING the ids recorded now: not seen
        before nor being processed (an id twice among the rows is recorded once)."""
        ids, types, topics, partitions, offsets = (f"${n}" for n in range(first, first + 5))
        return f"""INSERT INTO processed_events (event_id, event_type, topic, kafka_partition, kafka_offset)
           SELECT * FROM unnest({ids}::uuid[], {types}::text[], {topics}::text[], {partitions}::integer[],
                                {offsets}::bigint[])
           WHERE {where}
           ON CONFLICT (event_id) DO NOTHING RETURNING event_id"""

    def arguments(self) -> list[list[Any]]:
        return [
            [event.id for event in self.events],
            [event.type for event in self.events],
            [record.topic for record in self.records],
            [record.partition for record in self.records],
            [record.offset for record in self.records],
        ]

    def applied(self, recorded: set[uuid.UUID]) -> list[bool]:
        """For each event, whether it was applied, given the ids `recorded` now: an event seen before, or
        again later among these, is a duplicate."""
        left = set(recorded)
        applied = []
        for event in self.events:
            applied.append(event.id in left)
            left.discard(event.id)
        return applied
