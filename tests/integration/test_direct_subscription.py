"""A subscription polled with aiokafka directly (shared/direct_subscription.py), on the real Kafka: a batch
that fails is polled again, and what was processed is committed, so the group's next member resumes
after it."""

import asyncio
import uuid

from shared.direct_subscription import DirectSubscription, Records
from shared.kafka import EventProducer, OutgoingRecord
from shared.settings import ServiceSettings


async def test_a_failed_batch_comes_again_and_a_successor_resumes_after_what_was_processed(
    stack: tuple[str, str], scratch_topic: str, producer: EventProducer
) -> None:
    settings = ServiceSettings(kafka_bootstrap_servers=stack[1], consumer_group=f"tests-{uuid.uuid4().hex[:8]}")
    processed: list[bytes] = []
    failed: list[bytes] = []
    all_in = asyncio.Event()

    async def process(records: Records) -> None:
        values = [record.value for record in records]
        if not failed:  # the database away, say: nothing of the batch is applied
            failed.extend(values)
            raise RuntimeError("the first batch fails")
        processed.extend(values)
        if len(processed) >= expected:
            all_in.set()

    expected = 3
    await producer.send_all([OutgoingRecord(scratch_topic, b"%d" % n, b"first-%d" % n, []) for n in range(3)])
    subscription = DirectSubscription(settings, "tests", [scratch_topic], process, max_records=100)
    running = asyncio.create_task(subscription.run())
    await asyncio.wait_for(all_in.wait(), 60)
    await subscription.stop()
    await running
    assert sorted(processed) == [b"first-0", b"first-1", b"first-2"]  # each once, though one batch failed
    assert set(failed) <= set(processed)

    # The next member of the group starts after the committed offsets: only the new record comes.
    processed.clear()
    all_in.clear()
    expected = 1
    await producer.send_all([OutgoingRecord(scratch_topic, b"0", b"second", [])])
    successor = DirectSubscription(settings, "tests", [scratch_topic], process, max_records=100)
    running = asyncio.create_task(successor.run())
    await asyncio.wait_for(all_in.wait(), 60)
    await successor.stop()
    await running
    assert processed == [b"second"]
