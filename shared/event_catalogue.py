"""What a subscriber reads about each event type, beside its model (shared/event_types.py): a sentence
saying when it is sent, and an example of its data.

Descriptions are per type (fourteen order events share one model); examples per model, each a real
instance, so an example the model would refuse cannot be written. A type without a description here
is described by its model's docstring; the catalogue's tests ask for both for every type a webhook
endpoint can subscribe to.
"""

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from shared.cancellations import CancellationRequestData, LoyaltyCreditedData, RefundData, RestockRequestedData
from shared.orders import (
    ORDER_ANONYMIZED,
    Address,
    CustomerSnapshot,
    LineItemSnapshot,
    OrderLifecycleData,
    OrderSnapshot,
    ShippingLine,
    Snapshot,
    TaxLine,
    Transaction,
)
from shared.webhook_events import (
    WebhookEndpointDisabledData,
    WebhookEndpointRecoveredData,
    WebhookMessageExhaustedData,
)

DESCRIPTIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "order.created": "An order was created (by the API, a checkout, or an `order.placed` fact).",
        "order.updated": "An order's editable details changed: note, attributes, email, tags, addresses, metafields.",
        "order.closed": "An order was closed.",
        "order.reopened": "A closed order was opened again.",
        "order.deleted": "An order was deleted; the snapshot is the order as it was.",
        "order.paid": "An order's payment was captured in full.",
        "order.fulfilled": "Every item of an order was fulfilled.",
        "order.partially_fulfilled": "Some items of an order were fulfilled.",
        "order.cancelled": "An order was cancelled.",
        "order.refund_requested": "A refund of an order was opened and waits for the payment service.",
        "order.refunded": "A refund of an order settled.",
        "order.cancellation_requested": "A guest asked to cancel or return items of an order.",
        "order.return_received": "A warehouse received returned units of an order's line item.",
        ORDER_ANONYMIZED: "An order's personal data was erased; the snapshot is the masked order.",
        "cancellation.requested": "A guest's cancellation or return request was recorded.",
        "cancellation.approved": "A guest's cancellation or return request was approved.",
        "cancellation.rejected": "A guest's cancellation or return request was rejected.",
        "cancellation.completed": "An approved request was carried out: its money paid back, its units restocked.",
        "refund.requested": "Money is being paid back: a refund or a void was sent to the payment service.",
        "refund.succeeded": "The payment service paid the money back.",
        "refund.failed": "The payment service could not pay the money back.",
        "loyalty.credited": "Money was credited to the customer's loyalty balance instead of paid back.",
        "inventory.restock_requested": "Units of a cancelled or returned item may be sold again.",
        "webhook.message.exhausted": "A webhook message spent its retry schedule without being delivered.",
        "webhook.endpoint.disabled": "A webhook endpoint was disabled: it answered 410, kept failing, or by hand.",
        "webhook.endpoint.recovered": "A webhook endpoint reported failing (disabled, or a message exhausted) "
        "delivered again.",
    }
)

# When every example happened.
EXAMPLE_TIME: Final = datetime(2026, 1, 10, 16, 0, tzinfo=UTC)

_ORDER_ID: Final = 450789469
_LEDGER_ENTRY: Final = uuid.UUID("0b5f3f8e-8d0e-4f61-9d57-2f2b7f3c1a10")
_ENDPOINT: Final = uuid.UUID("5d2d3c59-4c89-4f0b-9a86-1b6c2a7e8f41")

_ADDRESS: Final = Address(
    first_name="Bob",
    last_name="Norman",
    name="Bob Norman",
    address1="Chestnut Street 92",
    city="Louisville",
    province="Kentucky",
    province_code="KY",
    country="United States",
    country_code="US",
    zip="40202",
    phone="555-625-1199",
)

_ORDER: Final = OrderSnapshot(
    id=_ORDER_ID,
    number=1,
    order_number=1001,
    name="#1001",
    token="b1946ac92492d2347c6235b4d2611184",  # noqa: S106 - the order's public token, not a secret
    email="bob.norman@example.com",
    currency="USD",
    line_items=[
        LineItemSnapshot(
            id=466157049,
            variant_id=39072856,
            product_id=632910392,
            sku="IPOD2008BLACK",
            title="IPod Nano - 8gb",
            variant_title="black",
            name="IPod Nano - 8gb - black",
            vendor="Apple",
            price=Decimal("199.00"),
            quantity=1,
            grams=200,
            fulfillable_quantity=1,
            tax_lines=[TaxLine(title="State Tax", price=Decimal("11.94"), rate=Decimal("0.06"))],
        )
    ],
    shipping_lines=[ShippingLine(code="Free Shipping", title="Free Shipping", price=Decimal("0.00"))],
    tax_lines=[TaxLine(title="State Tax", price=Decimal("11.94"), rate=Decimal("0.06"))],
    billing_address=_ADDRESS,
    shipping_address=_ADDRESS,
    customer=CustomerSnapshot(
        id=207119551,
        email="bob.norman@example.com",
        first_name="Bob",
        last_name="Norman",
        orders_count=1,
        total_spent=Decimal("210.94"),
        last_order_id=_ORDER_ID,
        last_order_name="#1001",
        created_at=EXAMPLE_TIME,
        updated_at=EXAMPLE_TIME,
    ),
    transactions=[
        Transaction(
            id=389404469,
            kind="capture",
            status="success",
            amount=Decimal("210.94"),
            currency="USD",
            gateway="bogus",
            created_at=EXAMPLE_TIME,
        )
    ],
    total_line_items_price=Decimal("199.00"),
    subtotal_price=Decimal("199.00"),
    total_discounts=Decimal("0.00"),
    total_tax=Decimal("11.94"),
    total_price=Decimal("210.94"),
    total_weight=200,
    status="open",
    financial_status="paid",
    source_name="web",
    guest=False,
    created_at=EXAMPLE_TIME,
    updated_at=EXAMPLE_TIME,
    processed_at=EXAMPLE_TIME,
)

EXAMPLES: Final[Mapping[type[Snapshot], Snapshot]] = MappingProxyType(
    {
        OrderLifecycleData: OrderLifecycleData(order_id=_ORDER_ID, sequence=2, order=_ORDER),
        CancellationRequestData: CancellationRequestData(
            source_name="web",
            request_id=1042,
            order_id=_ORDER_ID,
            line_item_id=466157049,
            quantity=1,
            reason_id=3,
            cancellation_type="refund",
            status="waiting",
            description="Arrived scratched",
            shipping_company_id=2,
            iban_last4="3000",
            created_at=EXAMPLE_TIME,
            updated_at=EXAMPLE_TIME,
        ),
        RefundData: RefundData(
            source_name="web",
            order_id=_ORDER_ID,
            refund_id=509562969,
            ledger_entry_id=_LEDGER_ENTRY,
            kind="refund",
            method="original",
            amount=Decimal("199.00"),
            currency="USD",
            status="succeeded",
        ),
        LoyaltyCreditedData: LoyaltyCreditedData(
            source_name="web",
            order_id=_ORDER_ID,
            customer_id=207119551,
            ledger_entry_id=_LEDGER_ENTRY,
            amount=Decimal("199.00"),
            currency="USD",
            balance=Decimal("249.00"),
        ),
        RestockRequestedData: RestockRequestedData(
            source_name="web",
            order_id=_ORDER_ID,
            line_item_id=466157049,
            variant_id=39072856,
            sku="IPOD2008BLACK",
            quantity=1,
            reason="return",
        ),
        WebhookMessageExhaustedData: WebhookMessageExhaustedData(
            message_id=81723,
            endpoint_id=_ENDPOINT,
            url="https://hooks.example.com/orders",
            event_id=uuid.UUID("9c7e1f0a-2b3d-4e5f-8a9b-0c1d2e3f4a5b"),
            event_type="order.created",
            order_id=str(_ORDER_ID),
            attempts=8,
            last_response_status=503,
            last_error=None,
        ),
        WebhookEndpointDisabledData: WebhookEndpointDisabledData(
            endpoint_id=_ENDPOINT, url="https://hooks.example.com/orders", reason="failing", failing_since=EXAMPLE_TIME
        ),
        WebhookEndpointRecoveredData: WebhookEndpointRecoveredData(
            endpoint_id=_ENDPOINT, url="https://hooks.example.com/orders", failure_reported_at=EXAMPLE_TIME
        ),
    }
)


def family_of(event_type: str) -> str:
    """An event type's family: its name up to the first dot (`order` for `order.created`), which
    endpoints subscribe to whole as `order.*`."""
    return event_type.split(".", 1)[0]
