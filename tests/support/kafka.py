"""Reading topics directly, as an operator would, to see what really went over Kafka."""

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer


def header(record: Any, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return str(value.decode())
    return None


async def read_records(
    bootstrap: str, topic: str, wanted: Callable[[Any], bool], *, expect: int, timeout: float = 60.0
) -> list[Any]:
    """Every record of `topic` (from the beginning) that `wanted` accepts, once at least `expect`
    of them are there; fails after `timeout` saying how many were found."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while len(found) < expect:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {expect} expected records on {topic} after {timeout} s")
            batches = await consumer.getmany(timeout_ms=500)
            found.extend(record for records in batches.values() for record in records if wanted(record))
        # Anything else already there (a duplicate, say) is part of the answer too.
        await asyncio.sleep(0.5)
        batches = await consumer.getmany(timeout_ms=500)
        found.extend(record for records in batches.values() for record in records if wanted(record))
    finally:
        await consumer.stop()
    return found
