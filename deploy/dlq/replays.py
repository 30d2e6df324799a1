"""The record of replays, `operations.dlq_replays`: a dead letter is replayed at most once.

A replay claims its dead letters (one row each, keyed by dead-letter topic, partition and offset)
before it produces them, and marks them replayed once the broker acknowledged them:
- two operators replaying at once: each dead letter is claimed by one of them, the other skips it;
- a replay that crashed between its claim and its mark leaves the claim unmarked; after `CLAIM_SECONDS`
  another replay may claim it again and produce it again. If the first copy had reached the broker,
  the consumer applies the event once all the same: it deduplicates by event id (`processed_events`).
The table lives in the `operations` schema, which provisioning creates (deploy/provision.py); the tool
uses the administrative DSN (`DATABASE_URL`).
"""

from collections.abc import Sequence
from typing import Final

from shared.db import Connection

CLAIM_SECONDS: Final = 60

SCHEMA: Final = """
CREATE SCHEMA IF NOT EXISTS operations;
CREATE TABLE IF NOT EXISTS operations.dlq_replays (
    dlq_topic      text NOT NULL,
    dlq_partition  integer NOT NULL,
    dlq_offset     bigint NOT NULL,
    event_id       text,
    event_type     text NOT NULL,
    claimed_by     text NOT NULL,
    claimed_at     timestamptz NOT NULL DEFAULT now(),
    replayed_at    timestamptz,
    PRIMARY KEY (dlq_topic, dlq_partition, dlq_offset)
);
"""

Position = tuple[int, int]  # partition, offset


async def create_table(conn: Connection) -> None:
    await conn.execute(SCHEMA)


async def replayed(conn: Connection, topic: str) -> set[Position]:
    """The dead letters of `topic` replayed so far."""
    rows = await conn.fetch(
        """SELECT dlq_partition, dlq_offset FROM operations.dlq_replays
            WHERE dlq_topic = $1 AND replayed_at IS NOT NULL""",
        topic,
    )
    return {(row["dlq_partition"], row["dlq_offset"]) for row in rows}


async def claim(
    conn: Connection, topic: str, letters: Sequence[tuple[Position, str | None, str]], holder: str
) -> set[Position]:
    """Claim the dead letters ((partition, offset), event id, type) for `holder`: those now its own,
    i.e. never claimed, or claimed by a replay that neither marked them nor renewed in CLAIM_SECONDS."""
    rows = await conn.fetch(
        """INSERT INTO operations.dlq_replays AS r (dlq_topic, dlq_partition, dlq_offset, event_id, event_type,
                                                     claimed_by)
           SELECT $1, * , $6 FROM unnest($2::integer[], $3::bigint[], $4::text[], $5::text[])
           ON CONFLICT (dlq_topic, dlq_partition, dlq_offset) DO UPDATE
              SET claimed_by = EXCLUDED.claimed_by, claimed_at = now()
            WHERE r.replayed_at IS NULL AND r.claimed_at < now() - make_interval(secs => $7)
           RETURNING dlq_partition, dlq_offset""",
        topic,
        [position[0] for position, _, _ in letters],
        [position[1] for position, _, _ in letters],
        [event_id for _, event_id, _ in letters],
        [event_type for _, _, event_type in letters],
        holder,
        CLAIM_SECONDS,
    )
    return {(row["dlq_partition"], row["dlq_offset"]) for row in rows}


async def mark_replayed(conn: Connection, topic: str, positions: Sequence[Position], holder: str) -> None:
    """Record that `holder` replayed these dead letters of `topic` (the broker acknowledged them)."""
    await conn.execute(
        """UPDATE operations.dlq_replays SET replayed_at = now()
            WHERE dlq_topic = $1 AND claimed_by = $4
              AND (dlq_partition, dlq_offset) IN (SELECT * FROM unnest($2::integer[], $3::bigint[]))""",
        topic,
        [position[0] for position in positions],
        [position[1] for position in positions],
        holder,
    )
