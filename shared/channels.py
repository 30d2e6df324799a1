"""Channels: who an event is for, beside what it is (its type). A webhook endpoint may ask for some
channels and then receives only the events that carry at least one of them (Svix's channels).

The one rule of which channels an event carries is here, applied by `Event.new` to every event any
service builds, so no producer names them itself. An order's events carry the order's sales channel
as `source:<source_name>` (`source:web`, `source:pos`, Haravan's app id `source:755357713`; `source:api`
when the order did not say). Other events carry none, and so go only to endpoints without channels.
"""

from typing import Final

from shared.orders import OrderLifecycleData, Snapshot

SOURCE_PREFIX: Final = "source:"
# A channel is at most this long (an order's `source_name` is at most 100 characters).
MAX_CHANNEL_LENGTH: Final = 128


def event_channels(data: Snapshot) -> tuple[str, ...]:
    """The channels an event with `data` is published on."""
    if isinstance(data, OrderLifecycleData):
        return (SOURCE_PREFIX + data.order.source_name,)
    return ()
