"""What an order may hold, after every merge and appended fact, and how large its event may be.

The documents' own bounds where they give one (Haravan creates up to 250 line items and 100
metafields; Digital River's metadata has up to 50 pairs), and room for any real order's payments and
shipments. Together with the event-size limit they keep every order's event publishable.
"""

from typing import Final

from services.order_api.domain.errors import WHOLE_ORDER, OrderRuleError

MAX_LINE_ITEMS: Final = 250
MAX_METAFIELDS: Final = 100
MAX_METADATA: Final = 50
MAX_TRANSACTIONS: Final = 250
MAX_FULFILLMENTS: Final = 250
MAX_REFUNDS: Final = 250


def check_count(field: str, count: int, limit: int) -> None:
    """An order's list or map `field` may hold at most `limit` entries, however it grew."""
    if count > limit:
        raise OrderRuleError(
            field, "too_many_entries", f"{field} may hold at most {limit} entries; this would make {count}"
        )


def check_event_size(size: int, limit: int) -> None:
    """A change is refused when its event, carrying the whole order, would be larger than `limit`
    bytes: Kafka takes records of about 1 MiB at most, and an event it refuses would never reach
    anyone, while the API had answered that the change was made."""
    if size > limit:
        raise OrderRuleError(
            WHOLE_ORDER,
            "order_too_large",
            f"the order would take {size:,} bytes as an event, over the limit of {limit:,}; "
            "send less text (notes, metafields, properties, addresses)",
        )
