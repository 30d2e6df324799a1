"""An order as stored: its snapshot and its version."""

from dataclasses import dataclass, field

from shared.orders import OrderSnapshot


@dataclass(frozen=True, slots=True)
class StoredOrder:
    """The order and its version: the sequence of its last event, which every change increments (its ETag)."""

    order: OrderSnapshot
    sequence: int
    # The order as JSON (`order.model_dump_json()`) when the store has just written it, so that its event
    # is built from the same text instead of serializing the order a second time.
    document: str | None = field(default=None, repr=False, compare=False)


def order_id_named(given: str) -> int | None:
    """The order id a caller's text names (ASCII digits, few enough for an id); None for text that names
    no order, which is then answered as an unknown order (never passed to the database)."""
    text = given.strip()
    return int(text) if text.isascii() and text.isdigit() and 0 < len(text) <= 18 else None
