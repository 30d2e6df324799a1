"""The demo catalog: the product variants and the customer the documents' examples name, and the
cancellation reasons and easy-return shipping companies a guest's cancellation request may name.

order_api keeps its catalog and customer read models from `catalog.variant.upserted` and
`customer.upserted` facts on `orders.ingest`, and its copies of the cancellation reference data from
`cancellation.reason.upserted` and `shipping_company.upserted`; publishing these lets the Haravan
document's create examples (a line item with only `variant_id` 447654529, an order for customer
207119551) and Akinon's cancellation requests (reason 1, shipping company 1) work on a fresh stack.
`./dev run` publishes them after the stack is up; `python -m deploy.local demo-catalog` does it alone.
Upserts are idempotent, so publishing again changes nothing.
"""

from collections.abc import Sequence
from decimal import Decimal
from typing import Final

from shared.cancellations import CancellationReason, ShippingCompany
from shared.events import Event
from shared.kafka import EventProducer, OutgoingRecord
from shared.order_facts import CustomerFact, VariantFact
from shared.topics import ORDERS_INGEST

SOURCE: Final = "demo-catalog"


def _ipod_nano(variant_id: int, colour: str) -> VariantFact:
    return VariantFact(
        id=variant_id,
        product_id=632910392,
        title="IPod Nano - 8gb",
        variant_title=colour,
        sku=f"IPOD2008{colour.upper()}",
        price=Decimal("199.00"),
        currency="USD",
        grams=200,
    )


# From the Haravan document's order examples (002): every variant its line items use, as they show it.
DEMO_VARIANTS: Final[tuple[VariantFact, ...]] = (
    VariantFact(
        id=447654529,
        product_id=921728736,
        title="IPod Touch 8GB",
        variant_title="Black",
        sku="IPOD2009BLACK",
        price=Decimal("199.00"),
        currency="USD",
        grams=200,
    ),
    _ipod_nano(39072856, "green"),
    _ipod_nano(49148385, "red"),
    _ipod_nano(457924702, "black"),
)

DEMO_CUSTOMERS: Final[tuple[CustomerFact, ...]] = (
    CustomerFact(id=207119551, email="bob.norman@hostmail.com", first_name="Bob", last_name="Norman"),
)


# Reasons a guest may give for cancelling, and carriers; only active easy-return ones take returns.
DEMO_CANCELLATION_REASONS: Final[tuple[CancellationReason, ...]] = (
    CancellationReason(id=1, name="I changed my mind"),
    CancellationReason(id=2, name="The item arrived damaged"),
    CancellationReason(id=3, name="The item is not as described"),
    CancellationReason(id=4, name="Delivery takes too long"),
    CancellationReason(id=9, name="Ordered by mistake (retired)", active=False),
)
DEMO_SHIPPING_COMPANIES: Final[tuple[ShippingCompany, ...]] = (
    ShippingCompany(id=1, name="Yurtici Kargo"),
    ShippingCompany(id=2, name="Aras Kargo"),
    ShippingCompany(id=3, name="MNG Kargo", easy_return=False),
    ShippingCompany(id=4, name="Surat Kargo", active=False),
)


def demo_facts() -> list[Event]:
    """The catalog as `orders.ingest` facts, each keyed by the id of what it describes."""
    return [
        *(Event.new("catalog.variant.upserted", SOURCE, str(variant.id), variant) for variant in DEMO_VARIANTS),
        *(Event.new("customer.upserted", SOURCE, str(customer.id), customer) for customer in DEMO_CUSTOMERS),
        *(
            Event.new("cancellation.reason.upserted", SOURCE, str(reason.id), reason)
            for reason in DEMO_CANCELLATION_REASONS
        ),
        *(
            Event.new("shipping_company.upserted", SOURCE, str(company.id), company)
            for company in DEMO_SHIPPING_COMPANIES
        ),
    ]


def ingest_record(event: Event) -> OutgoingRecord:
    """`event` as a record on `orders.ingest`, keyed by its subject as every producer keys it."""
    return OutgoingRecord(ORDERS_INGEST, event.key, event.body(), event.headers())


async def publish(bootstrap: str, records: Sequence[OutgoingRecord]) -> None:
    """Send `records` in order, as another service would, and wait for the broker's acks."""
    producer = EventProducer(bootstrap, SOURCE)
    await producer.connect()
    try:
        await producer.send_all(records)
    finally:
        await producer.close()


async def publish_demo_catalog(bootstrap: str) -> int:
    """Publish the demo catalog to `orders.ingest`; returns how many facts went out."""
    records = [ingest_record(event) for event in demo_facts()]
    await publish(bootstrap, records)
    return len(records)
