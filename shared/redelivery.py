"""How long a consumed event can still be delivered again: the horizon past which `processed_events`
rows no longer deduplicate anything.

Kafka deletes a partition's log a segment at a time, once the newest record of the segment is older
than the topic's `retention.ms`; a segment takes records for at most `segment.ms` after its first one.
So a record is gone at the latest `retention.ms + segment.ms` after it was written, plus the broker's
retention check interval (5 minutes by default), covered by `SLACK` with clock skew. A record is
processed after it was written, so a `processed_events` row older than that horizon, counted from its
`processed_at`, names an event that can no longer be redelivered from that topic. The horizon is read
from the broker (the topics' effective configs, the broker's defaults included), so it follows a
retention changed by provisioning (KAFKA_PERSONAL_DATA_RETENTION_HOURS) or by hand; a topic kept for
ever (`retention.ms=-1`) has no horizon, and nothing is pruned.
"""

from collections.abc import Collection
from datetime import timedelta
from typing import Final

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import for_code

SLACK: Final = timedelta(hours=1)
_WANTED: Final = ("retention.ms", "segment.ms")


def horizon_of(configs: Collection[dict[str, str]]) -> timedelta | None:
    """The redelivery horizon of topics with these configs (`retention.ms`, `segment.ms`), or None when
    one of them keeps its records for ever."""
    longest = timedelta(0)
    for config in configs:
        retention = int(config["retention.ms"])
        if retention < 0:
            return None
        longest = max(longest, timedelta(milliseconds=retention + int(config["segment.ms"])))
    return longest + SLACK


async def redelivery_horizon(bootstrap: str, topics: Collection[str]) -> timedelta | None:
    """The redelivery horizon of `topics`, as the broker has them configured now."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="retention")
    await admin.start()
    try:
        [response] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, dict.fromkeys(_WANTED)) for topic in sorted(topics)]
        )
    finally:
        await admin.close()
    configs = []
    for error_code, error_message, _, name, entries in response.resources:
        if error_code:
            raise for_code(error_code)(f"topic {name}: {error_message}")
        configs.append({entry[0]: entry[1] for entry in entries})
    return horizon_of(configs)
