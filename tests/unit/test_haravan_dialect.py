"""The Haravan dialect's translations (services/order_api/api/haravan/): filter times, ids and fields
as the document writes them, the order in the document's shape, and what an update may change."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from services.order_api.api.haravan.queries import order_filters, parse_time
from services.order_api.api.haravan.requests import OrderCreateBody
from services.order_api.api.haravan.responses import HaravanOrder
from services.order_api.api.haravan.translation import haravan_order
from services.order_api.api.haravan.updates import OrderUpdateBody
from services.order_api.api.http import if_match_version
from services.order_api.domain.changes import OrderChanges
from shared.orders import (
    Address,
    CustomerSnapshot,
    Fulfillment,
    FulfillmentLine,
    LineItemSnapshot,
    Refund,
    ShippingLine,
    TaxLine,
    Transaction,
)
from shared.problems import Problem
from tests.support.orders import sample_order


def _problem_field(call: Any, *args: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(Problem) as caught:
        call(*args, **kwargs)
    assert caught.value.status == 422
    assert caught.value.errors is not None
    return caught.value.code, caught.value.errors[0]["field"]


# ---- times ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("2005-07-31 15:57:11 EDT -04:00", datetime(2005, 7, 31, 19, 57, 11, tzinfo=UTC)),  # the document's example
        ("2008-12-31 03:00", datetime(2008, 12, 31, 3, tzinfo=UTC)),  # the documented form: UTC
        ("2008-12-31", datetime(2008, 12, 31, tzinfo=UTC)),
        ("2008-12-31T03:00:00Z", datetime(2008, 12, 31, 3, tzinfo=UTC)),
        ("2008-12-31T03:00:00 UTC", datetime(2008, 12, 31, 3, tzinfo=UTC)),
        ("2008-12-31T03:00:00.5+05:30", datetime(2008, 12, 30, 21, 30, 0, 500000, tzinfo=UTC)),
        ("2008-12-31T03:00:00 07:00", datetime(2008, 12, 30, 20, tzinfo=UTC)),  # a `+` decoded as a space
        ("2008-12-31T03:00:00-0330", datetime(2008, 12, 31, 6, 30, tzinfo=UTC)),
    ],
)
def test_filter_times_in_the_forms_the_document_uses(written: str, meant: datetime) -> None:
    assert parse_time("updated_at_min", written) == meant


@pytest.mark.parametrize(
    "written",
    [
        "yesterday",
        "2015-02-30 10:00",  # no such day
        "2005-07-31 15:57:11 EDT",  # a zone name alone is ambiguous
        "0001-01-01T00:00:00+14:00",  # before the first representable instant
        "2008-12-31T25:00",
        "",
    ],
)
def test_a_time_that_is_not_one_names_the_parameter(written: str) -> None:
    assert _problem_field(parse_time, "created_at_max", written) == ("validation_error", "created_at_max")


# ---- ids, statuses, fields --------------------------------------------------------------------------


async def test_filters_translate_the_document_vocabulary() -> None:
    query = await order_filters(
        status="any",
        ids="3, 1,2",
        created_at_min=None,
        created_at_max=None,
        updated_at_min=None,
        updated_at_max=None,
        processed_at_min="2008-12-31 03:00",
        processed_at_max=None,
        financial_status="partiallyrefunded",
        fulfillment_status="not_fulfilled",
    )

    assert (query.ids, query.statuses) == ([3, 1, 2], None)
    assert (query.financial_statuses, query.fulfillment_statuses) == (["partially_refunded"], [None])
    assert query.processed_at_min == datetime(2008, 12, 31, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    "ids", ["1,x", "1,,2", "0", "-1", "9" * 20, "\N{ARABIC-INDIC DIGIT ONE}", ",".join(["1"] * 251)]
)
async def test_ids_that_are_not_order_ids_are_refused(ids: str) -> None:
    filters: dict[str, Any] = dict.fromkeys(
        (
            "created_at_min",
            "created_at_max",
            "updated_at_min",
            "updated_at_max",
            "processed_at_min",
            "processed_at_max",
        )
    )

    with pytest.raises(Problem) as caught:
        await order_filters(status="open", ids=ids, financial_status="any", fulfillment_status="any", **filters)

    assert caught.value.code == "validation_error"
    assert [error["field"] for error in caught.value.errors or []] == ["ids"]


# ---- the order in the document's shape ----------------------------------------------------------


def test_the_order_answers_the_documents_keys_from_the_snapshot() -> None:
    now = datetime(2015, 3, 28, 17, 30, tzinfo=UTC)
    snapshot = sample_order(1001).model_copy(
        update={
            "email": None,
            "currency": "EUR",
            "tax_lines": [TaxLine(title="State tax", price=Decimal("13.50"), rate=Decimal("0.06"))],
            "billing_address": Address(first_name="John", last_name="Smith", latitude=Decimal("45.41634")),
            "transactions": [
                Transaction(id=1, kind="sale", status="success", amount=Decimal(1), currency="EUR", created_at=now),
                Transaction(
                    id=2,
                    kind="sale",
                    status="success",
                    amount=Decimal(1),
                    currency="EUR",
                    gateway="bogus",
                    created_at=now,
                ),
            ],
        }
    )

    answered = haravan_order(snapshot)

    assert (answered["email"], answered["gateway"], answered["total_price_usd"]) == ("", "bogus", None)
    assert answered["tax_lines"] == [{"title": "State tax", "price": "13.50", "rate": 0.06}]
    assert (answered["billing_address"]["name"], answered["billing_address"]["latitude"]) == ("John Smith", 45.41634)
    assert (answered["confirmed"], answered["cart_token"], answered["source"]) == (True, None, "api")
    assert answered["line_items"][0]["product_exists"] is False


def test_a_usd_order_answers_its_total_in_usd_and_fulfillments_with_their_line_items() -> None:
    now = datetime(2015, 3, 28, 17, 30, tzinfo=UTC)
    order = sample_order(1002)
    item: LineItemSnapshot = order.line_items[0]
    shipped = Fulfillment(
        id=7,
        status="success",
        line_items=[FulfillmentLine(id=item.id, quantity=1)],
        tracking_number="1Z2345",
        created_at=now,
        updated_at=now,
    )

    answered = haravan_order(order.model_copy(update={"fulfillments": [shipped]}))

    assert answered["total_price_usd"] == answered["total_price"] == "25.00"
    [fulfillment] = answered["fulfillments"]
    assert (fulfillment["order_id"], fulfillment["tracking_numbers"], fulfillment["tracking_urls"]) == (
        1002,
        ["1Z2345"],
        [],
    )
    assert [(line["id"], line["title"], line["quantity"]) for line in fulfillment["line_items"]] == [
        (item.id, "Teapot", 1)
    ]


def test_the_translation_is_exactly_the_documented_model() -> None:
    now = datetime(2015, 3, 28, 17, 30, tzinfo=UTC)
    order = sample_order(1003)
    item = order.line_items[0].model_copy(
        update={"tax_lines": [TaxLine(title="VAT", price=Decimal("2.50"), rate=Decimal("0.1"))]}
    )
    rich = order.model_copy(
        update={
            "line_items": [item],
            "shipping_lines": [ShippingLine(title="Post", price=Decimal("5.00"), tax_lines=item.tax_lines)],
            "shipping_address": Address(name="Jane Smith", longitude=Decimal("-75.6868")),
            "customer": CustomerSnapshot(id=7, email="jane@example.com", created_at=now, updated_at=now),
            "fulfillments": [
                Fulfillment(
                    id=8,
                    status="success",
                    line_items=[FulfillmentLine(id=item.id, quantity=2)],
                    tracking_url="https://track.example/1",
                    created_at=now,
                    updated_at=now,
                )
            ],
            "refunds": [Refund(id=9, amount=Decimal("1.00"), created_at=now)],
        }
    )

    answered = haravan_order(rich)

    # Every key the model documents, of the type it documents, and nothing else.
    assert json.loads(HaravanOrder.model_validate(answered).model_dump_json()) == answered
    assert answered["customer"]["verified_email"] is False
    assert answered["shipping_lines"][0]["tax_lines"][0]["rate"] == 0.1
    assert answered["refunds"][0]["order_id"] == answered["fulfillments"][0]["order_id"] == 1003
    assert answered["shipping_address"]["longitude"] == -75.6868
    # Answered from the order's JSON as the store just wrote it, the same.
    assert haravan_order(rich, rich.model_dump_json()) == answered


# ---- create and update bodies -------------------------------------------------------------------


def test_a_create_without_transactions_or_status_is_paid_and_with_transactions_is_computed() -> None:
    item = {"title": "Teapot", "price": "10.00", "quantity": 1}
    bare = OrderCreateBody.model_validate({"order": {"line_items": [item]}}).order.draft()
    authorized = OrderCreateBody.model_validate(
        {"order": {"line_items": [item], "transactions": [{"kind": "authorization", "amount": "10.00"}]}}
    ).order.draft()

    assert (bare.financial_status, authorized.financial_status) == ("paid", None)


# The order updates are read against: order 1, with a note.
NOTED = sample_order(1).model_copy(update={"note": "fragile"})


@pytest.mark.parametrize(
    ("update", "code", "field"),
    [
        ({"line_items": []}, "immutable_field", "order.line_items"),
        ({"source_name": "pos"}, "immutable_field", "order.source_name"),
        ({"colour": "red"}, "unknown_field", "order.colour"),
        ({"id": 2, "note": "x"}, "validation_error", "order.id"),
        ({"id": 1}, "nothing_to_change", "order"),
        ({"note": None}, "validation_error", "order.note"),
        ({"buyer_accepts_marketing": None, "note": "x"}, "validation_error", "order.buyer_accepts_marketing"),
        ({"customer": {"id": 5}}, "immutable_field", "order.customer"),
    ],
)
def test_an_update_refuses_what_may_not_change(update: dict[str, Any], code: str, field: str) -> None:
    body = OrderUpdateBody.model_validate({"order": update})

    assert _problem_field(body.order.changes, NOTED) == (code, field)


def test_an_update_changes_only_what_it_names_and_null_customer_detaches_it() -> None:
    customer = CustomerSnapshot(id=5, created_at=NOTED.created_at, updated_at=NOTED.created_at)
    with_customer = NOTED.model_copy(update={"customer": customer})
    changes = OrderUpdateBody.model_validate({"order": {"id": 1, "note": "hi", "customer": None}}).order.changes(
        with_customer
    )

    assert changes is not None
    assert (changes.note, changes.email, changes.tags, changes.remove_customer) == ("hi", None, None, True)
    named = OrderUpdateBody.model_validate({"order": {"note": "hi"}}).order.changes(with_customer)
    assert named is not None
    assert not named.remove_customer


def test_the_whole_order_sent_back_as_read_changes_only_what_differs() -> None:
    """A Shopify-style client PUTs back every key it read: the platform's own keys are ignored (stale
    ones too), the fixed ones are accepted as they are, and only the changed note changes."""
    shown = json.loads(json.dumps(haravan_order(NOTED)))
    stale = {**shown, "updated_at": "2001-01-01T00:00:00Z", "financial_status": "refunded", "total_price": "1.00"}
    for item in stale["line_items"]:
        item["fulfillable_quantity"] = 0  # shipped since it was read: not the update's business

    assert OrderUpdateBody.model_validate({"order": stale}).order.changes(NOTED) is None
    changes = OrderUpdateBody.model_validate({"order": {**stale, "note": "handle with care"}}).order.changes(NOTED)
    assert changes == OrderChanges(note="handle with care")
    moved = {**shown, "currency": "EUR", "line_items": [{**shown["line_items"][0], "price": "1.00"}]}
    assert _problem_field(OrderUpdateBody.model_validate({"order": moved}).order.changes, NOTED) == (
        "immutable_field",
        "order.currency",
    )


@pytest.mark.parametrize(
    ("processed_at", "message"),
    [("2015-03-28T13:30:00", "give the UTC offset"), ("9999-12-31T23:59:59-14:00", "outside the years")],
)
def test_a_processed_at_that_names_no_instant_is_refused(processed_at: str, message: str) -> None:
    body = OrderCreateBody.model_validate(
        {"order": {"line_items": [{"title": "Teapot", "price": "1.00", "quantity": 1}], "processed_at": processed_at}}
    )

    with pytest.raises(Problem) as caught:
        body.order.draft()

    assert caught.value.errors is not None
    assert [error["field"] for error in caught.value.errors] == ["order.processed_at"]
    assert message in caught.value.detail


def test_text_the_store_cannot_hold_is_refused_naming_where_it_is() -> None:
    with pytest.raises(Problem) as caught:
        OrderCreateBody.model_validate(
            {"order": {"line_items": [{"title": "Tea\u0000pot", "price": "1.00", "quantity": 1}]}}
        )

    assert caught.value.errors is not None
    assert caught.value.errors[0]["field"] == "order.line_items[0].title"


@pytest.mark.parametrize(("header", "version"), [(None, None), ("*", None), ('"3"', 3), (" 7 ", 7)])
async def test_if_match_names_a_version_or_any(header: str | None, version: int | None) -> None:
    assert await if_match_version(header) == version


@pytest.mark.parametrize("header", ['W/"12"', ' W/"3" ', "W/7"])
async def test_a_weak_etag_in_if_match_never_matches(header: str) -> None:
    with pytest.raises(Problem) as caught:
        await if_match_version(header)

    assert (caught.value.status, caught.value.code) == (412, "weak_etag")
    assert "strong" in caught.value.detail


@pytest.mark.parametrize("header", ["soon", '"\N{SUPERSCRIPT TWO}"', '"' + "9" * 19 + '"', '"-1"', ""])
async def test_an_if_match_that_is_no_etag_of_this_api_is_400(header: str) -> None:
    with pytest.raises(Problem) as caught:
        await if_match_version(header)

    assert (caught.value.status, caught.value.code) == (400, "invalid_if_match")
