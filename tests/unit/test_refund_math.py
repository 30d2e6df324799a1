"""The refund math (shared/refund_math.py) over random orders and random sequences of partial refunds:
nothing is refunded beyond what was captured or ordered, every amount is at the currency's precision,
and the shares add up to the unit."""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.money import allocate, from_minor, is_precise, to_minor
from shared.orders import LineItemSnapshot, OrderSnapshot, Refund, RefundLine, Transaction
from shared.refund_math import FULL_SHIPPING, RefundRefused, check_amount, line_values, quote, refundable

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Line:
    price: int  # minor units
    quantity: int
    taxable: bool


@st.composite
def orders(draw: st.DrawFn) -> OrderSnapshot:
    currency = draw(st.sampled_from(["JPY", "USD", "KWD"]))  # 0, 2 and 3 decimals
    lines = draw(
        st.lists(st.builds(Line, st.integers(0, 200_000), st.integers(1, 12), st.booleans()), min_size=1, max_size=5)
    )
    subtotal = sum(line.price * line.quantity for line in lines)
    discount = draw(st.integers(0, subtotal))
    tax = draw(st.integers(0, 60_000))
    shipping = draw(st.integers(0, 9_000))
    taxes_included = draw(st.booleans())
    total = subtotal - discount + shipping + (0 if taxes_included else tax)
    captured = draw(st.sampled_from([total, total // 2, 0]))
    return make_order(currency, lines, discount, tax, shipping, taxes_included=taxes_included, captured=captured)


def make_order(
    currency: str,
    lines: list[Line],
    discount: int,
    tax: int,
    shipping: int,
    *,
    taxes_included: bool,
    captured: int,
) -> OrderSnapshot:
    """An order of `lines`, amounts in minor units, paid `captured` with one sale."""
    subtotal = sum(line.price * line.quantity for line in lines)
    total = subtotal - discount + shipping + (0 if taxes_included else tax)

    def money(units: int) -> Decimal:
        return from_minor(units, currency)

    return OrderSnapshot(
        id=1,
        number=1,
        order_number=1001,
        name="#1001",
        token="t",
        currency=currency,
        line_items=[
            LineItemSnapshot(
                id=index + 1,
                title="Item",
                name="Item",
                price=money(line.price),
                quantity=line.quantity,
                taxable=line.taxable,
                fulfillable_quantity=line.quantity,
            )
            for index, line in enumerate(lines)
        ],
        total_line_items_price=money(subtotal),
        subtotal_price=money(subtotal - discount),
        total_discounts=money(discount),
        total_shipping_price=money(shipping),
        total_tax=money(tax),
        total_price=money(total),
        total_weight=0,
        taxes_included=taxes_included,
        status="open",
        financial_status="paid",
        transactions=[
            Transaction(id=1, kind="sale", status="success", amount=money(captured), currency=currency, created_at=NOW)
        ],
        guest=True,
        created_at=NOW,
        updated_at=NOW,
        processed_at=NOW,
    )


def with_refund(order: OrderSnapshot, quantities: dict[int, int], shipping: Decimal, amount: Decimal) -> OrderSnapshot:
    """The order after the refund went through, as order_api records it."""
    refund = Refund(
        id=len(order.refunds) + 100,
        amount=amount,
        shipping=shipping,
        refund_line_items=[RefundLine(line_item_id=i, quantity=q, subtotal=Decimal(0)) for i, q in quantities.items()],
        created_at=NOW,
    )
    transaction = Transaction(
        id=len(order.transactions) + 1,
        kind="refund",
        status="success",
        amount=amount,
        currency=order.currency,
        created_at=NOW,
    )
    return order.model_copy(
        update={"refunds": [*order.refunds, refund], "transactions": [*order.transactions, transaction]}
    )


def units_left(order: OrderSnapshot) -> dict[int, int]:
    done: dict[int, int] = {}
    for refund in order.refunds:
        for line in refund.refund_line_items:
            done[line.line_item_id] = done.get(line.line_item_id, 0) + line.quantity
    return {item.id: item.quantity - done.get(item.id, 0) for item in order.line_items}


@settings(max_examples=300, deadline=None)
@given(orders())
def test_the_lines_values_and_the_shipping_add_up_to_the_order_total(order: OrderSnapshot) -> None:
    values = line_values(order)
    currency = order.currency
    assert sum(line.subtotal for line in values) == to_minor(order.total_line_items_price, currency)
    assert sum(line.discount for line in values) == to_minor(order.total_discounts, currency)
    lines_total = sum(line.net for line in values) + to_minor(order.total_shipping_price, currency)
    assert lines_total == to_minor(order.total_price, currency)
    assert all(0 <= line.discount <= line.subtotal for line in values)


@settings(max_examples=300, deadline=None)
@given(orders(), st.data())
def test_any_sequence_of_partial_refunds_never_takes_more_than_was_captured_or_ordered(
    order: OrderSnapshot, data: st.DataObject
) -> None:
    captured = refundable(order)
    refusals: list[str] = []
    for _ in range(data.draw(st.integers(1, 6))):
        left = {item_id: units for item_id, units in units_left(order).items() if units}
        chosen = data.draw(st.lists(st.sampled_from(sorted(left)), unique=True, max_size=len(left))) if left else []
        quantities = {item_id: data.draw(st.integers(1, left[item_id])) for item_id in chosen}
        shipping = data.draw(st.sampled_from([None, FULL_SHIPPING, Decimal(0)]))
        try:
            refund = quote(order, quantities, shipping)
        except RefundRefused as refused:  # the only refusal: more than is left of the captured money
            refusals.append(refused.code)
            continue
        for amount in (refund.amount, refund.shipping, *(line.amount for line in refund.lines)):
            assert is_precise(amount, order.currency)
            assert amount >= 0
        assert refund.amount == sum((line.amount for line in refund.lines), refund.shipping)
        order = with_refund(order, quantities, refund.shipping, refund.amount)
        assert refundable(order) >= 0
    refunded = sum((refund.amount for refund in order.refunds), Decimal(0))
    assert refunded <= captured
    assert all(units >= 0 for units in units_left(order).values())
    assert set(refusals) <= {"refund_exceeds_refundable"}


@settings(max_examples=200, deadline=None)
@given(orders(), st.data())
def test_refunding_everything_in_pieces_returns_exactly_the_total(order: OrderSnapshot, data: st.DataObject) -> None:
    paid = order.model_copy(
        update={"transactions": [order.transactions[0].model_copy(update={"amount": order.total_price})]}
    )
    order = paid
    while any(units_left(order).values()):
        left = {item_id: units for item_id, units in units_left(order).items() if units}
        item_id = data.draw(st.sampled_from(sorted(left)))
        quantities = {item_id: data.draw(st.integers(1, left[item_id]))}
        refund = quote(order, quantities)
        order = with_refund(order, quantities, refund.shipping, refund.amount)
    last = quote(order, {}, FULL_SHIPPING)
    order = with_refund(order, {}, last.shipping, last.amount)
    assert sum((refund.amount for refund in order.refunds), Decimal(0)) == paid.total_price
    assert refundable(order) == 0


@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**6), min_size=1, max_size=20))
def test_largest_remainder_shares_add_up_and_each_is_within_one_unit_of_its_exact_share(
    total: int, weights: list[int]
) -> None:
    shares = allocate(total, weights)
    weights = weights if any(weights) else [1] * len(weights)  # all-zero weights: equal shares
    assert sum(shares) == total
    for share, weight in zip(shares, weights, strict=True):
        exact = Decimal(total) * weight / sum(weights)
        assert abs(share - exact) < 1


def test_a_cancel_amount_is_refused_beyond_what_can_be_refunded_or_finer_than_the_currency() -> None:
    lines = [Line(price=1999, quantity=3, taxable=True), Line(price=500, quantity=1, taxable=False)]
    order = make_order("USD", lines, discount=1000, tax=480, shipping=700, taxes_included=False, captured=7177)
    captured = refundable(order)
    assert captured == Decimal("71.77")
    with pytest.raises(RefundRefused) as too_much:
        check_amount(order, captured + Decimal("0.01"))
    assert (too_much.value.field, too_much.value.code) == ("amount", "refund_exceeds_refundable")
    with pytest.raises(RefundRefused) as too_precise:
        check_amount(order, Decimal("0.001"))
    assert too_precise.value.code == "too_precise"
    assert check_amount(order, captured) == captured


def test_a_pending_or_failed_refund_holds_its_money_and_units_until_it_succeeds() -> None:
    lines = [Line(price=1000, quantity=2, taxable=False)]
    order = make_order("USD", lines, discount=0, tax=0, shipping=0, taxes_included=False, captured=2000)
    first = quote(order, {1: 2})
    for status in ("pending", "failure"):
        held = order.model_copy(
            update={
                "refunds": [
                    Refund(
                        id=9,
                        amount=first.amount,
                        status=status,
                        refund_line_items=[RefundLine(line_item_id=1, quantity=2, subtotal=Decimal("20.00"))],
                        created_at=NOW,
                    )
                ]
            }
        )
        assert refundable(held) == 0
        with pytest.raises(RefundRefused) as again:  # the same units, concurrently or after a failure
            quote(held, {1: 1})
        assert again.value.code == "invalid_quantity"
        with pytest.raises(RefundRefused):
            check_amount(held, Decimal("0.01"))
