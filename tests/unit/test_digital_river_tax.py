"""Per-line-item tax (Digital River's tax details): services/order_api/domain/taxes.py. Pure, no I/O."""

import random
from decimal import Decimal

from services.order_api.domain.taxes import LineItemTax, line_item_taxes
from shared.orders import LineItemSnapshot, OrderSnapshot, TaxLine
from tests.support.orders import sample_order


def item(item_id: int, price: str, quantity: int = 1, *, taxable: bool = True, **fields: object) -> LineItemSnapshot:
    return LineItemSnapshot.model_validate(
        {
            "id": item_id,
            "title": f"item {item_id}",
            "name": f"item {item_id}",
            "price": price,
            "quantity": quantity,
            "fulfillable_quantity": quantity,
            "taxable": taxable,
            **fields,
        }
    )


def order(items: list[LineItemSnapshot], taxes: list[tuple[str, str]], currency: str = "USD") -> OrderSnapshot:
    tax_lines = [
        TaxLine(title=f"tax {n}", price=Decimal(price), rate=Decimal(rate)) for n, (price, rate) in enumerate(taxes)
    ]
    return sample_order(1).model_copy(update={"line_items": items, "tax_lines": tax_lines, "currency": currency})


def test_order_tax_is_split_in_proportion_to_the_items_amounts() -> None:
    taxes = line_item_taxes(order([item(1, "100.00"), item(2, "50.00", 2), item(3, "50.00")], [("20.00", "0.1")]))

    assert taxes == [
        LineItemTax(1, Decimal("100.00"), Decimal("8.00"), Decimal("0.1")),
        LineItemTax(2, Decimal("100.00"), Decimal("8.00"), Decimal("0.1")),
        LineItemTax(3, Decimal("50.00"), Decimal("4.00"), Decimal("0.1")),
    ]


def test_the_last_taxable_item_takes_the_rounding_remainder_so_the_parts_add_up() -> None:
    taxes = line_item_taxes(order([item(1, "1.00"), item(2, "1.00"), item(3, "1.00")], [("0.10", "0.1")]))

    assert [tax.tax_amount for tax in taxes] == [Decimal("0.03"), Decimal("0.03"), Decimal("0.04")]


def test_non_taxable_items_get_no_tax_and_the_remainder_skips_them() -> None:
    taxes = line_item_taxes(
        order([item(1, "10.00"), item(2, "10.00"), item(3, "99.00", taxable=False)], [("1.01", "0.05")])
    )

    assert taxes == [
        LineItemTax(1, Decimal("10.00"), Decimal("0.50"), Decimal("0.05")),
        LineItemTax(2, Decimal("10.00"), Decimal("0.51"), Decimal("0.05")),
        LineItemTax(3, Decimal("0.00"), Decimal("0.00"), Decimal("0")),
    ]


def test_several_tax_lines_add_their_shares_and_rates() -> None:
    taxes = line_item_taxes(order([item(1, "30.00"), item(2, "70.00")], [("6.00", "0.06"), ("1.00", "0.01")]))

    assert taxes == [
        LineItemTax(1, Decimal("30.00"), Decimal("2.10"), Decimal("0.07")),
        LineItemTax(2, Decimal("70.00"), Decimal("4.90"), Decimal("0.07")),
    ]


def test_amounts_follow_the_currency_precision() -> None:
    taxes = line_item_taxes(order([item(1, "1000"), item(2, "1000"), item(3, "1000")], [("100", "0.1")], "JPY"))

    assert [str(tax.tax_amount) for tax in taxes] == ["33", "33", "34"]
    assert [str(tax.taxable_amount) for tax in taxes] == ["1000", "1000", "1000"]


def test_items_that_carry_their_own_tax_lines_report_those() -> None:
    own = [TaxLine(title="VAT", price=Decimal("2.30"), rate=Decimal("0.23"))]
    taxes = line_item_taxes(order([item(1, "10.00", tax_lines=own), item(2, "5.00")], [("2.30", "0.23")]))

    assert taxes == [
        LineItemTax(1, Decimal("10.00"), Decimal("2.30"), Decimal("0.23")),
        LineItemTax(2, Decimal("5.00"), Decimal("0.00"), Decimal("0")),
    ]


def test_free_taxable_items_leave_the_whole_tax_on_the_last_one() -> None:
    taxes = line_item_taxes(order([item(1, "0.00"), item(2, "0.00")], [("0.50", "0.1")]))

    assert [tax.tax_amount for tax in taxes] == [Decimal("0.00"), Decimal("0.50")]


def test_an_order_without_tax_shows_zero_tax_on_every_item() -> None:
    taxes = line_item_taxes(order([item(1, "10.00"), item(2, "5.00", taxable=False)], []))

    assert [(tax.tax_amount, tax.rate) for tax in taxes] == [(Decimal("0.00"), Decimal(0))] * 2


def test_shares_always_add_up_exactly_and_are_never_negative() -> None:
    rng = random.Random(20261122)
    for _ in range(500):
        items = [
            item(n, f"{rng.randint(0, 100_000) / 100:.2f}", rng.randint(1, 5), taxable=rng.random() < 0.8)
            for n in range(1, rng.randint(2, 8))
        ]
        items[0] = items[0].model_copy(update={"taxable": True})
        taxes = [(f"{rng.randint(0, 50_000) / 100:.2f}", "0.1") for _ in range(rng.randint(1, 3))]

        shares = line_item_taxes(order(items, taxes))

        assert sum(share.tax_amount for share in shares) == sum(Decimal(price) for price, _ in taxes)
        assert all(
            share.tax_amount >= 0 and share.tax_amount == share.tax_amount.quantize(Decimal("0.01")) for share in shares
        )
