"""What an order may hold and how large its event may be (services/order_api/domain/limits.py), however it
grew: at create, by merges, by appended payments and fulfilments. Pure functions, no I/O."""

from typing import Any

import pytest

from services.order_api.domain.changes import OrderChanges, update
from services.order_api.domain.errors import WHOLE_ORDER, OrderRuleError
from services.order_api.domain.limits import check_event_size
from shared.orders import Metafield
from tests.support.order_rules import (
    LATER,
    build,
    custom,
    fulfil_items,
    order,
    pay,
    rule_error,
)

# ---- limits: what an order may hold, and how large its event may be --------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"line_items": [custom("1.00")] * 251}, "line_items"),
        ({"transactions": [{"kind": "authorization", "amount": "0.01"}] * 251}, "transactions"),
        ({"metafields": [{"namespace": "n", "key": str(k), "value": "v"} for k in range(101)]}, "metafields"),
        ({"metadata": {str(k): "v" for k in range(51)}}, "metadata"),
    ],
)
def test_a_draft_beyond_what_an_order_may_hold_is_refused(fields: dict[str, Any], field: str) -> None:
    # Orders placed through orders.ingest have no request model to bound them: the rule does.
    error = rule_error(order(**fields))

    assert (error.field, error.code) == (field, "too_many_entries")


def _metafields(*keys: str) -> list[Metafield]:
    return [Metafield(namespace="global", key=key, value="v") for key in keys]


def test_metafields_merged_beyond_100_are_refused_but_replacing_existing_ones_is_not() -> None:
    full = build(order(metafields=[m.model_dump() for m in _metafields(*map(str, range(100)))]))

    replaced = update(full, OrderChanges(metafields=_metafields("0", "99")), LATER)
    with pytest.raises(OrderRuleError) as caught:
        update(full, OrderChanges(metafields=_metafields("0", "new")), LATER)

    assert len(replaced.metafields) == 100
    assert (caught.value.field, caught.value.code) == ("metafields", "too_many_entries")
    assert "at most 100" in caught.value.message


def test_metadata_merged_beyond_50_keys_is_refused_but_overwriting_keys_is_not() -> None:
    full = build(order(metadata={str(k): "v" for k in range(50)}))

    overwritten = update(full, OrderChanges(metadata={"0": "w", "49": "w"}), LATER)
    with pytest.raises(OrderRuleError) as caught:
        update(full, OrderChanges(metadata={"0": "w", "50": "v"}), LATER)

    assert len(overwritten.metadata) == 50
    assert (caught.value.field, caught.value.code) == ("metadata", "too_many_entries")


def test_a_payment_beyond_250_transactions_is_refused() -> None:
    created = build(order(custom("1000.00"), transactions=[{"kind": "authorization", "amount": "1.00"}] * 249))

    at_limit, _ = pay(created, "captured", "1.00", tx_id=901)
    with pytest.raises(OrderRuleError) as caught:
        pay(at_limit, "captured", "1.00", tx_id=902)

    assert len(at_limit.transactions) == 250
    assert (caught.value.field, caught.value.code) == ("transactions", "too_many_entries")


def test_a_fulfillment_beyond_250_is_refused_even_with_items_left() -> None:
    created = build(order(custom("1.00", quantity=300)))
    [item] = created.line_items
    shipped = created
    for fulfillment_id in range(1, 251):
        shipped = fulfil_items(shipped, fulfillment_id, (item.id, 1))

    with pytest.raises(OrderRuleError) as caught:
        fulfil_items(shipped, 251, (item.id, 1))

    assert shipped.line_items[0].fulfillable_quantity == 50
    assert (caught.value.field, caught.value.code) == ("fulfillments", "too_many_entries")


def test_an_event_larger_than_the_limit_is_refused_naming_both_sizes() -> None:
    check_event_size(1_000_000, 1_000_000)

    with pytest.raises(OrderRuleError) as caught:
        check_event_size(1_144_468, 1_000_000)

    assert (caught.value.field, caught.value.code) == (WHOLE_ORDER, "order_too_large")
    assert "1,144,468 bytes" in caught.value.message
    assert "1,000,000" in caught.value.message
