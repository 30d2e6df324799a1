"""The Digital River dialect's translations (services/order_api/api/digital_river/): the snapshot
as a Digital River order, requests as domain commands and queries, domain fields as request fields."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.order_api.api.digital_river.fields import request_field
from services.order_api.api.digital_river.queries import ListParams
from services.order_api.api.digital_river.requests import DigitalRiverOrderCreate, DigitalRiverOrderUpdate
from services.order_api.api.digital_river.responses import DigitalRiverOrder, digital_river_order
from services.order_api.domain.queries import OrderQuery
from shared.order_facts import CustomerDraft
from shared.orders import CheckoutFields, CustomerSnapshot, Refund, Transaction
from shared.problems import Problem
from tests.support.orders import sample_order

NOW = datetime(2026, 3, 28, 17, 30, tzinfo=UTC)


def transaction(tx_id: int, kind: str, amount: str, status: str = "success") -> Transaction:
    return Transaction.model_validate(
        {"id": tx_id, "kind": kind, "status": status, "amount": amount, "currency": "USD", "created_at": NOW}
    )


def test_money_views_add_up_from_the_transactions_and_refunds() -> None:
    order = sample_order(7).model_copy(
        update={
            "transactions": [
                transaction(1, "authorization", "25.00"),
                transaction(2, "capture", "20.00"),
                transaction(3, "sale", "5.00"),
                transaction(4, "capture", "99.00", status="failure"),
                transaction(5, "void", "3.00"),
                transaction(6, "refund", "4.50"),
            ],
            "refunds": [
                Refund(id=9, amount=Decimal("4.50"), created_at=NOW),  # settled: its transaction is 6
                Refund(id=10, amount=Decimal("2.00"), status="pending", created_at=NOW),  # holds its money
            ],
        }
    )

    shown = digital_river_order(order)

    assert (shown.captured_amount, shown.refunded_amount, shown.available_to_refund_amount) == (
        Decimal("25.00"),
        Decimal("4.50"),
        Decimal("18.50"),
    )
    assert shown.cancelled_amount == Decimal("0.00")  # nothing of it is cancelled
    assert (shown.total_fees, shown.total_duty) == (Decimal("0.00"), Decimal("0.00"))


def test_the_order_shows_camel_case_keys_lower_case_currency_and_the_customer_id() -> None:
    customer = CustomerSnapshot(id=5774321009, created_at=NOW, updated_at=NOW)
    order = sample_order(8).model_copy(update={"customer": customer, "cancel_reason": "fraud"})

    shown = digital_river_order(order).model_dump(mode="json", by_alias=True)

    assert shown["currency"] == "usd"
    assert shown["customerId"] == 5774321009
    assert shown["cancellationReason"] == "fraud"
    assert shown["state"] == "accepted"  # paid, nothing shipped yet
    assert shown["items"][0] == {
        "id": 80,
        "variantId": None,
        "productId": None,
        "skuId": None,
        "name": "Teapot",
        "quantity": 2,
        "price": "12.50",
        "amount": "25.00",
        "taxable": True,
    }
    assert all("_" not in key for key in shown)


@pytest.mark.parametrize(
    ("domain_field", "request_name"),
    [
        ("customer.id", "customerId"),
        ("line_items", "items"),
        ("line_items[3].title", "items[3].name"),
        ("line_items[0].variant_id", "items[0].variantId"),
        ("line_items[12].price", "items[12].price"),
        ("line_items[1].quantity", "items[1].quantity"),
        ("tax_lines[2].price", "taxLines[2].amount"),
        ("shipping_lines[0].price", "shippingChoice.amount"),
        ("currency", "currency"),
        ("total_tax", "totalTax"),
    ],
)
def test_domain_fields_are_named_as_the_request_names_them(domain_field: str, request_name: str) -> None:
    assert request_field(domain_field) == request_name


def test_a_create_request_becomes_the_draft_it_describes() -> None:
    request = DigitalRiverOrderCreate.model_validate(
        {
            "customerId": 5774321009,
            "currency": "eur",
            "browserIp": "2001:DB8:0:0::1",
            "taxInclusive": True,
            "upstreamId": "7765374748",
            "sourceId": "src_1",
            "items": [{"variantId": 447654529, "quantity": 2}, {"name": "Wrap", "price": 1.5, "quantity": 1}],
            "taxLines": [{"name": "VAT", "rate": "0.2", "amount": "3.00"}],
            "shippingChoice": {"amount": "4.00"},
        }
    )

    draft = request.draft()

    assert (draft.currency, draft.browser_ip, draft.taxes_included) == ("EUR", "2001:db8::1", True)
    assert draft.customer == CustomerDraft(id=5774321009)
    assert (draft.upstream_id, draft.source_id) == ("7765374748", "src_1")
    assert [(item.variant_id, item.title, item.price, item.quantity) for item in draft.line_items] == [
        (447654529, None, None, 2),
        (None, "Wrap", Decimal("1.5"), 1),
    ]
    assert [(tax.title, tax.price, tax.rate) for tax in draft.tax_lines] == [("VAT", Decimal("3.00"), Decimal("0.2"))]
    assert [(line.title, line.price) for line in draft.shipping_lines] == [("Shipping", Decimal("4.00"))]


def test_an_update_names_the_fields_it_refuses() -> None:
    with pytest.raises(Problem) as immutable:
        DigitalRiverOrderUpdate.model_validate({"metadata": {"a": "b"}, "totalAmount": "1", "colour": "red"}).changes()
    with pytest.raises(Problem) as empty:
        DigitalRiverOrderUpdate.model_validate({}).changes()

    assert (immutable.value.status, immutable.value.code) == (422, "immutable_field")
    assert immutable.value.errors == [
        {"field": "colour", "message": "unknown field"},
        {"field": "totalAmount", "message": "cannot be changed"},
    ]
    assert (empty.value.status, empty.value.code) == (422, "nothing_to_change")


def test_an_update_becomes_the_changes_it_names() -> None:
    changes = DigitalRiverOrderUpdate.model_validate({"requestToBeForgotten": True, "metadata": {"a": "b"}}).changes()

    assert (changes.request_to_be_forgotten, changes.upstream_id, changes.metadata) == (True, None, {"a": "b"})


def test_list_parameters_become_the_store_query() -> None:
    params = ListParams.model_validate(
        {
            "ids": "3,1",
            "upstreamIds": "u1,u2",
            "state": "accepted",
            "customerId": "42",
            "currency": "usd",
            "browserIp": "2001:DB8::1",
            "refundedAmount": "0.00",
            "sku": "IPOD",
        }
    )

    assert params.query() == OrderQuery(
        ids=[3, 1],
        upstream_ids=["u1", "u2"],
        states=["accepted"],
        customer_id=42,
        currency="USD",
        browser_ip="2001:db8::1",
        refunded_amount=Decimal("0.00"),
        sku="IPOD",
    )
    assert ListParams().query() == OrderQuery()


@pytest.mark.parametrize("ids", ["9223372036854775808", ",".join(["1"] * 101)])
def test_ids_outside_bigint_or_too_many_are_refused(ids: str) -> None:
    with pytest.raises(Problem) as refused:
        ListParams.model_validate({"ids": ids}).query()

    assert [error["field"] for error in refused.value.errors or []] == ["ids"]


def test_the_create_request_and_the_order_declare_every_checkout_field() -> None:
    # The draft and the answer take the checkout's fields by name (shared.orders.CheckoutFields).
    assert set(CheckoutFields.model_fields) <= set(DigitalRiverOrderCreate.model_fields)
    assert set(CheckoutFields.model_fields) <= set(DigitalRiverOrder.model_fields)
