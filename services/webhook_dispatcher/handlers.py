"""The dispatcher's Kafka subscribers: fan each event out to the endpoints that asked for it (keeping an
anonymized order's masked snapshot on the way), and the anonymizer's `erasure.requested` on
anonymization.events (only that)."""

from services.webhook_dispatcher.erasure import ErasureService
from services.webhook_dispatcher.handoff import Handoff
from services.webhook_dispatcher.service import WebhookService
from services.webhook_dispatcher.settings import DispatcherSettings
from shared.erasure_receipts import subscribe_to_erasures
from shared.runtime import Runtime

# Records taken per poll, all fanned out in one transaction (fan_out.py: one statement for its
# messages; senders are handed theirs once it commits), the offset committed once per batch, which is
# what bounded fan-out throughput one record at a time. Kept moderate, because a consumer group
# rebalance waits for every member's batch in hand.
BATCH_RECORDS = 200


def subscribe(runtime: Runtime[DispatcherSettings], handoff: Handoff | None = None) -> None:
    """The fan-out hands what this instance's sender has room for to it (`handoff`), when given."""
    erasures = ErasureService()
    service = WebhookService(runtime.pool, runtime.settings, erasures=erasures, handoff=handoff)
    runtime.subscribe_forwarding(
        runtime.settings.event_topics, service.fan_out_handler(BATCH_RECORDS), batch_records=BATCH_RECORDS, direct=True
    )
    subscribe_to_erasures(runtime, erasures.erase_order)
