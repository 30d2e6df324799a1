"""Changes after creation (services/order_api/domain/changes.py and tags.py): tags, updates, closing,
reopening and deleting. Pure functions, no I/O."""

from datetime import timedelta

import pytest

from services.order_api.domain.changes import OrderChanges, check_deletable, close, reopen, update
from services.order_api.domain.errors import OrderRuleError, OrderStateError
from shared.orders import CustomerSnapshot, Metafield, NameValue
from tests.support.order_rules import (
    CHECKOUT_RECORD,
    LATER,
    PENDING_EXISTING_CUSTOMER,
    REGISTERED,
    build,
    in_state,
    order,
    rule_error,
)

# ---- tags -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "stored"),
    [
        ("", ""),
        ("vip", "vip"),
        (" vip ,gift,, wholesale ", "vip, gift, wholesale"),
        ("a, b, a", "a, b"),
        ("x" * 40, "x" * 40),
    ],
)
def test_tags_are_normalised(tags: str, stored: str) -> None:
    assert build(order(tags=tags)).tags == stored


def test_a_tag_longer_than_40_characters_is_refused_at_create_and_update() -> None:
    error = rule_error(order(tags=f"ok, {'y' * 41}"))
    assert (error.field, error.code) == ("tags", "tag_too_long")

    with pytest.raises(OrderRuleError) as caught:
        update(build(order()), OrderChanges(tags="z" * 41), LATER)
    assert (caught.value.field, caught.value.code) == ("tags", "tag_too_long")


# ---- close, reopen, delete ----------------------------------------------------------------------------


def test_close_then_reopen() -> None:
    created = build(order())

    closed = close(created, LATER)
    assert (closed.status, closed.closed_at, closed.updated_at) == ("closed", LATER, LATER)

    reopened = reopen(closed, LATER + timedelta(minutes=1))
    assert (reopened.status, reopened.closed_at) == ("open", None)


@pytest.mark.parametrize("status", ["closed", "cancelled"])
def test_only_an_open_order_closes(status: str) -> None:
    with pytest.raises(OrderStateError) as caught:
        close(in_state(status=status), LATER)

    assert (caught.value.field, caught.value.code) == ("status", "order_not_open")


@pytest.mark.parametrize("status", ["open", "cancelled"])
def test_only_a_closed_order_reopens(status: str) -> None:
    with pytest.raises(OrderStateError) as caught:
        reopen(in_state(status=status), LATER)

    assert (caught.value.field, caught.value.code) == ("status", "order_not_closed")


@pytest.mark.parametrize(
    ("status", "financial_status", "deletable"),
    [
        ("open", "pending", True),
        ("open", "voided", True),
        ("open", "authorized", False),
        ("open", "paid", False),
        ("open", "partially_refunded", False),
        ("closed", "paid", True),
        ("cancelled", "refunded", True),
    ],
)
def test_check_deletable(status: str, financial_status: str, deletable: bool) -> None:
    candidate = in_state(status=status, financial_status=financial_status)
    if deletable:
        check_deletable(candidate)
    else:
        with pytest.raises(OrderStateError) as caught:
            check_deletable(candidate)
        assert (caught.value.field, caught.value.code) == ("status", "order_not_deletable")


def test_an_order_to_be_forgotten_is_deletable_only_once_anonymized() -> None:
    waiting = in_state(status="open", financial_status="pending").model_copy(update={"request_to_be_forgotten": True})
    with pytest.raises(OrderStateError) as caught:
        check_deletable(waiting)
    assert (caught.value.field, caught.value.code) == ("request_to_be_forgotten", "order_not_deletable")
    check_deletable(waiting.model_copy(update={"status": "cancelled", "anonymized": True}))


# ---- update ---------------------------------------------------------------------------------------------


def test_update_changes_only_what_it_names_and_keeps_items_and_totals() -> None:
    created = build(PENDING_EXISTING_CUSTOMER, REGISTERED)

    updated = update(
        created,
        OrderChanges(
            note="leave at the door",
            note_attributes=[NameValue(name="colour", value="red")],
            email="new@example.com",
            buyer_accepts_marketing=True,
            tags="gift",
        ),
        LATER,
    )

    assert (updated.note, updated.email, updated.buyer_accepts_marketing, updated.tags) == (
        "leave at the door",
        "new@example.com",
        True,
        "gift",
    )
    assert updated.note_attributes == [NameValue(name="colour", value="red")]
    assert updated.updated_at == LATER
    unchanged = {"note", "note_attributes", "email", "buyer_accepts_marketing", "tags", "updated_at"}
    assert updated.model_dump(exclude=unchanged) == created.model_dump(exclude=unchanged)


def test_an_empty_update_only_touches_updated_at() -> None:
    created = build(order(note="keep", tags="a"))

    updated = update(created, OrderChanges(), LATER)

    assert updated == created.model_copy(update={"updated_at": LATER})


def test_metafields_merge_by_namespace_and_key() -> None:
    created = build(
        order(
            metafields=[
                {"namespace": "inventory", "key": "warehouse", "value": "1"},
                {"namespace": "crm", "key": "warehouse", "value": "north"},
            ]
        )
    )

    updated = update(
        created,
        OrderChanges(
            metafields=[
                Metafield(namespace="inventory", key="warehouse", value="2", value_type="integer"),
                Metafield(namespace="inventory", key="shelf", value="B4"),
            ]
        ),
        LATER,
    )

    assert {(m.namespace, m.key): m.value for m in updated.metafields} == {
        ("inventory", "warehouse"): "2",
        ("crm", "warehouse"): "north",
        ("inventory", "shelf"): "B4",
    }
    assert len(updated.metafields) == 3


def test_metadata_merges_and_forget_flags_set() -> None:
    created = build(order(metadata={"a": "1", "b": "2"}))

    updated = update(
        created, OrderChanges(metadata={"b": "3", "c": "4"}, request_to_be_forgotten=True, upstream_id="up-1"), LATER
    )

    assert updated.metadata == {"a": "1", "b": "3", "c": "4"}
    assert (updated.request_to_be_forgotten, updated.upstream_id) == (True, "up-1")


@pytest.mark.parametrize(("customer", "guest"), [(REGISTERED, False), (CHECKOUT_RECORD, True)])
def test_removing_the_customer_keeps_the_order_the_kind_it_was_placed_as(
    customer: CustomerSnapshot, guest: bool
) -> None:
    created = build(PENDING_EXISTING_CUSTOMER, customer)
    assert created.guest is guest

    updated = update(created, OrderChanges(remove_customer=True), LATER)

    assert (updated.customer, updated.guest) == (None, guest)
    assert updated.email == created.email
