"""The ingest contract without I/O: every fact type has its handler, and the demo catalog publishes valid
facts that fill line items exactly as the Haravan document's examples show them."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from deploy.demo_catalog import (
    DEMO_CANCELLATION_REASONS,
    DEMO_CUSTOMERS,
    DEMO_SHIPPING_COMPANIES,
    DEMO_VARIANTS,
    demo_facts,
)
from services.order_api.domain.building import NewOrderIds, build_order
from services.order_api.handlers import FACT_HANDLERS
from shared.event_types import INGEST_FACTS
from shared.events import decode_event
from shared.order_facts import LineItemDraft, OrderDraft


def test_every_ingest_fact_type_has_a_handler() -> None:
    assert set(FACT_HANDLERS) == set(INGEST_FACTS)


def test_the_demo_catalog_facts_decode_as_order_api_reads_them() -> None:
    facts = demo_facts()

    decoded = [decode_event(event.headers(), event.body()) for event in facts]

    assert [(event.type, event.subject, event.data) for event in decoded] == [
        *(("catalog.variant.upserted", str(variant.id), variant) for variant in DEMO_VARIANTS),
        *(("customer.upserted", str(customer.id), customer) for customer in DEMO_CUSTOMERS),
        *(("cancellation.reason.upserted", str(reason.id), reason) for reason in DEMO_CANCELLATION_REASONS),
        *(("shipping_company.upserted", str(company.id), company) for company in DEMO_SHIPPING_COMPANIES),
    ]
    assert len({event.id for event in decoded}) == len(facts)


# The line items of the Haravan document's examples: (variant_id, product_id, sku, name, price, grams).
DOCUMENTED_LINE_ITEMS = [
    (447654529, 921728736, "IPOD2009BLACK", "IPod Touch 8GB - Black", "199.00", 200),
    (39072856, 632910392, "IPOD2008GREEN", "IPod Nano - 8gb - green", "199.00", 200),
    (49148385, 632910392, "IPOD2008RED", "IPod Nano - 8gb - red", "199.00", 200),
    (457924702, 632910392, "IPOD2008BLACK", "IPod Nano - 8gb - black", "199.00", 200),
]


@pytest.mark.parametrize("documented", DOCUMENTED_LINE_ITEMS, ids=lambda item: str(item[0]))
def test_a_variant_id_alone_gives_the_documented_line_item(
    documented: tuple[int, int, str, str, str, int],
) -> None:
    variant_id = documented[0]
    draft = OrderDraft(line_items=[LineItemDraft(variant_id=variant_id, quantity=1)])
    ids = NewOrderIds(1, 1001, "token", iter(range(10, 20)))

    order = build_order(draft, ids, datetime.now(UTC), {v.id: v for v in DEMO_VARIANTS}, None)

    [item] = order.line_items
    assert (item.variant_id, item.product_id, item.sku, item.name, str(item.price), item.grams) == documented
    assert (order.currency, order.total_price) == ("USD", Decimal("199.00"))
