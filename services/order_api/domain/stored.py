"""An order as stored: its snapshot and its version."""

from dataclasses import dataclass

from shared.orders import OrderSnapshot


@dataclass(frozen=True, slots=True)
class StoredOrder:
    """The order and its version: the sequence of its last event, which every change increments (its ETag)."""

    order: OrderSnapshot
    sequence: int
