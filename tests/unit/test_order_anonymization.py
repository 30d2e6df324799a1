"""What of an order anonymization masks, and which orders may be anonymized
(services/order_api/domain/anonymization.py). Pure, no I/O."""

from decimal import Decimal
from typing import Any

import pytest

from services.order_api.domain.anonymization import check_still_masked, ineligibility, mask_order
from services.order_api.domain.errors import OrderStateError
from shared.erasure import MASK
from shared.orders import Address, ClientDetails, CustomerSnapshot, NameValue, OrderSnapshot, Refund
from tests.support.order_rules import LATER, NOW, PARTIALLY_PAID_NEW_CUSTOMER, build, in_state

PERSONAL: dict[str, Any] = {
    **PARTIALLY_PAID_NEW_CUSTOMER,
    "phone": "+15550199",
    "note": "leave it with Mrs Smith next door",
    "note_attributes": [{"name": "gift_message", "value": "Happy birthday Jane"}],
    "metafields": [{"namespace": "crm", "key": "nickname", "value": "Janey"}],
    "browser_ip": "203.0.113.7",
    "client_details": {"browser_ip": "203.0.113.7", "user_agent": "Mozilla/5.0", "browser_width": 1280},
    "metadata": {"loyalty_card": "LC-123"},
    "billing_address": {
        "first_name": "John",
        "last_name": "Smith",
        "company": "Smith & Co",
        "address1": "123 Fake Street",
        "city": "Fakecity",
        "zip": "K2P 1L4",
        "country": "Canada",
        "phone": "555-555-5555",
        "latitude": "45.41634",
    },
}


PAUL = CustomerSnapshot(
    id=9000000007,
    email="paul.norman@example.com",
    first_name="Paul",
    last_name="Norman",
    created_at=NOW,
    updated_at=NOW,
)


def _order() -> OrderSnapshot:
    return build(PERSONAL, customer=PAUL)


def test_every_personal_value_becomes_a_star_and_absent_ones_stay_absent() -> None:
    masked = mask_order(_order(), LATER)

    assert (masked.email, masked.phone, masked.note, masked.browser_ip) == (MASK,) * 4
    assert [pair.value for pair in masked.note_attributes] == [MASK]
    assert [pair.name for pair in masked.note_attributes] == ["gift_message"]
    assert [field.value for field in masked.metafields] == [MASK]
    assert masked.metadata == {"loyalty_card": MASK}
    billing = masked.billing_address
    assert billing is not None
    assert billing.first_name == billing.company == billing.address1 == billing.zip == billing.phone == MASK
    assert billing.address2 is None
    assert billing.latitude is None
    shipping = masked.shipping_address
    assert shipping is not None
    assert shipping.first_name == shipping.address1 == MASK
    assert masked.customer is not None
    assert (masked.customer.email, masked.customer.first_name, masked.customer.last_name) == (MASK,) * 3
    assert masked.client_details == ClientDetails(browser_ip=MASK, user_agent=MASK)
    assert masked.anonymized
    assert masked.updated_at == LATER


def test_refund_notes_and_line_item_properties_become_stars_and_absent_notes_stay_absent() -> None:
    noted = Refund(id=1, amount=Decimal(5), note="Jane Smith called: gift never arrived", created_at=NOW)
    bare = Refund(id=2, amount=Decimal(3), created_at=NOW)
    order = _order()
    engraving = [NameValue(name="engraving", value="To Jane")]
    engraved = [item.model_copy(update={"properties": engraving}) for item in order.line_items]
    given = order.model_copy(update={"refunds": [noted, bare], "line_items": engraved})

    masked = mask_order(given, LATER)

    assert [(refund.id, refund.note, refund.amount) for refund in masked.refunds] == [
        (1, MASK, Decimal(5)),
        (2, None, Decimal(3)),
    ]
    assert [[(pair.name, pair.value) for pair in item.properties] for item in masked.line_items] == [
        [("engraving", MASK)]
    ] * len(order.line_items)
    assert "Jane" not in masked.model_dump_json()


def test_what_is_no_personal_data_is_kept() -> None:
    order = _order()
    masked = mask_order(order, LATER)

    kept = ("id", "order_number", "token", "currency", "total_price", "financial_status", "transactions", "created_at")
    assert {name: getattr(masked, name) for name in kept} == {name: getattr(order, name) for name in kept}
    assert [item.title for item in masked.line_items] == [item.title for item in order.line_items]
    assert masked.customer is not None
    assert order.customer is not None
    assert (masked.customer.id, masked.customer.orders_count) == (order.customer.id, order.customer.orders_count)


def test_no_personal_string_survives_anywhere_in_the_snapshot() -> None:
    document = mask_order(_order(), LATER).model_dump_json()

    for secret in ("jane@example.com", "paul.norman", "Smith", "Fake Street", "203.0.113.7", "Janey", "555-555"):
        assert secret not in document


def test_masking_twice_is_masking_once() -> None:
    once = mask_order(_order(), LATER)
    assert mask_order(once, LATER) == once


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"email": "jane.again@example.com"}, "email"),
        ({"note": "new address: 5 New Street", "metadata": {"loyalty_card": "LC-9"}}, "metadata, note"),
        ({"shipping_address": Address(address1="5 New Street")}, "shipping_address"),
    ],
)
def test_an_anonymized_order_refuses_personal_data_again(change: dict[str, Any], fields: str) -> None:
    changed = mask_order(_order(), LATER).model_copy(update=change)

    with pytest.raises(OrderStateError) as refused:
        check_still_masked(changed)

    assert (refused.value.field, refused.value.code) == (fields.split(", ", maxsplit=1)[0], "order_anonymized")
    assert f"({fields})" in refused.value.message


def test_an_anonymized_order_takes_changes_that_hold_no_personal_data() -> None:
    masked = mask_order(_order(), LATER)
    check_still_masked(masked.model_copy(update={"tags": "erased", "status": "closed", "email": MASK}))


@pytest.mark.parametrize("model", [Address, CustomerSnapshot, ClientDetails])
def test_every_text_field_of_the_personal_models_is_classified(model: type[Any]) -> None:
    # A new text field fails here until mask_order says whether it is masked or kept.
    known = {
        Address: {"first_name", "last_name", "name", "company", "address1", "address2", "city", "province"}
        | {"province_code", "country", "country_code", "zip", "phone", "latitude", "longitude"},
        CustomerSnapshot: {"id", "email", "first_name", "last_name", "phone", "accepts_marketing", "orders_count"}
        | {"total_spent", "last_order_id", "last_order_name", "state", "note", "tags", "created_at", "updated_at"},
        ClientDetails: {"browser_ip", "accept_language", "user_agent", "session_hash", "browser_width"}
        | {"browser_height"},
    }
    assert set(model.model_fields) == known[model]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"financial_status": "paid"}, "not_finished"),
        ({"financial_status": "partially_refunded"}, "not_finished"),
        ({"financial_status": "pending", "fulfillment_status": "partial"}, "not_finished"),
        ({"status": "cancelled"}, None),
        ({"fulfillment_status": "fulfilled"}, None),
        ({"financial_status": "refunded"}, None),
        ({"status": "closed", "financial_status": "paid"}, "not_finished"),
        ({"anonymized": True}, None),
    ],
)
def test_only_cancelled_fulfilled_or_fully_refunded_orders_are_eligible(fields: dict[str, Any], reason: str) -> None:
    assert ineligibility(in_state(**fields)) == reason


def test_a_pending_refund_or_an_open_guest_request_holds_an_eligible_order_back() -> None:
    pending = Refund(id=1, amount=1, status="pending", created_at=NOW)
    assert ineligibility(in_state(status="cancelled", refunds=[pending])) == "refund_pending"
    order = in_state(status="cancelled")
    items = [item.model_copy(update={"active_request": True}) for item in order.line_items]
    assert ineligibility(order.model_copy(update={"line_items": items})) == "request_active"
