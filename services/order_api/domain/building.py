"""Building an order from a draft: catalog fields filled in, ids given, every total computed and checked."""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final

from services.order_api.domain.customers import is_guest
from services.order_api.domain.errors import OrderRuleError
from services.order_api.domain.fulfillments import fulfil
from services.order_api.domain.limits import MAX_LINE_ITEMS, MAX_METADATA, MAX_METAFIELDS, MAX_TRANSACTIONS, check_count
from services.order_api.domain.money import DEFAULT_CURRENCY, MAX_AMOUNT, check_money, money
from services.order_api.domain.payments import stated_financial_status
from services.order_api.domain.tags import normalise_tags
from shared.money import currency_exponent
from shared.order_facts import FulfillmentCreatedFact, LineItemDraft, OrderDraft, VariantFact
from shared.orders import CustomerSnapshot, LineItemSnapshot, OrderSnapshot, Transaction

FIRST_ORDER_NUMBER: Final = 1001


def order_name(order_number: int) -> str:
    """The order's display name, as the Haravan document shows it (`#1001`)."""
    return f"#{order_number}"


@dataclass(frozen=True, slots=True)
class NewOrderIds:
    order_id: int
    order_number: int
    token: str
    # Ids for the nested objects (line items, transactions, fulfillment), taken in order.
    object_ids: Iterator[int]


def object_ids_needed(draft: OrderDraft) -> int:
    """How many nested-object ids `build_order` takes for this draft."""
    return len(draft.line_items) + len(draft.transactions) + (1 if draft.fulfillment_status else 0)


def build_order(
    draft: OrderDraft,
    ids: NewOrderIds,
    now: datetime,
    variants: Mapping[int, VariantFact],
    customer: CustomerSnapshot | None,
) -> OrderSnapshot:
    """The order a draft describes, with catalog fields filled in and every total computed and checked."""
    for field, count, limit in (
        ("line_items", len(draft.line_items), MAX_LINE_ITEMS),
        ("transactions", len(draft.transactions), MAX_TRANSACTIONS),
        ("metafields", len(draft.metafields), MAX_METAFIELDS),
        ("metadata", len(draft.metadata), MAX_METADATA),
    ):
        check_count(field, count, limit)
    currency = _order_currency(draft, variants)
    line_items = [
        _line_item(index, item, next(ids.object_ids), currency, variants) for index, item in enumerate(draft.line_items)
    ]
    if not line_items:
        raise OrderRuleError("line_items", "no_line_items", "an order needs at least one line item")
    shipping_lines = [
        line.model_copy(update={"price": check_money(line.price, currency, f"shipping_lines[{index}].price")})
        for index, line in enumerate(draft.shipping_lines)
    ]
    tax_lines = [
        tax.model_copy(update={"price": check_money(tax.price, currency, f"tax_lines[{index}].price")})
        for index, tax in enumerate(draft.tax_lines)
    ]
    discount_codes = [
        code.model_copy(update={"amount": check_money(code.amount, currency, f"discount_codes[{index}].amount")})
        for index, code in enumerate(draft.discount_codes)
    ]
    transactions = [
        Transaction(
            id=next(ids.object_ids),
            kind=tx.kind,
            status=tx.status,
            amount=check_money(tx.amount, currency, f"transactions[{index}].amount"),
            currency=currency,
            gateway=tx.gateway,
            authorization=tx.authorization,
            created_at=now,
        )
        for index, tx in enumerate(draft.transactions)
    ]
    tax_from_lines = sum((tax.price for tax in draft.tax_lines), Decimal(0))
    if draft.total_tax is not None:
        check_money(draft.total_tax, currency, "total_tax")
        if draft.tax_lines and draft.total_tax != tax_from_lines:
            raise OrderRuleError(
                "total_tax",
                "total_tax_mismatch",
                f"total_tax {draft.total_tax} differs from the tax lines' sum {tax_from_lines}",
            )
    total_tax = draft.total_tax if draft.total_tax is not None else tax_from_lines
    line_items_price = sum((item.price * item.quantity for item in line_items), Decimal(0))
    total_discounts = sum((discount.amount for discount in draft.discount_codes), Decimal(0))
    if total_discounts > line_items_price:
        raise OrderRuleError(
            "discount_codes", "discount_exceeds_total", "discounts add up to more than the line items cost"
        )
    shipping = sum((line.price for line in draft.shipping_lines), Decimal(0))
    subtotal = line_items_price - total_discounts
    total = subtotal + shipping + (Decimal(0) if draft.taxes_included else total_tax)
    if total >= MAX_AMOUNT:
        raise OrderRuleError("line_items", "amount_too_large", f"the order's total {total} is too large to store")
    total_price = money(total, currency)
    order = OrderSnapshot(
        id=ids.order_id,
        number=ids.order_number - FIRST_ORDER_NUMBER + 1,
        order_number=ids.order_number,
        name=order_name(ids.order_number),
        token=ids.token,
        # What the caller gave first; an account's address only when it named the account by id.
        email=draft.email
        or (draft.customer.email if draft.customer else None)
        or (customer.email if customer else None),
        phone=draft.phone,
        currency=currency,
        line_items=line_items,
        shipping_lines=shipping_lines,
        tax_lines=tax_lines,
        discount_codes=discount_codes,
        note=draft.note,
        note_attributes=draft.note_attributes,
        tags=normalise_tags(draft.tags),
        billing_address=draft.billing_address,
        shipping_address=draft.shipping_address,
        customer=customer,
        client_details=draft.client_details,
        browser_ip=draft.browser_ip or (draft.client_details.browser_ip if draft.client_details else None),
        buyer_accepts_marketing=draft.buyer_accepts_marketing,
        transactions=transactions,
        metafields=draft.metafields,
        total_line_items_price=money(line_items_price, currency),
        subtotal_price=money(subtotal, currency),
        total_discounts=money(total_discounts, currency),
        total_shipping_price=money(shipping, currency),
        total_tax=money(total_tax, currency),
        total_price=total_price,
        total_weight=sum(item.grams * item.quantity for item in line_items),
        taxes_included=draft.taxes_included,
        status="open",
        financial_status=stated_financial_status(draft.financial_status, total_price, transactions),
        source_name=draft.source_name,
        request_to_be_forgotten=draft.request_to_be_forgotten,
        **draft.checkout_fields(),
        guest=is_guest(customer),
        created_at=now,
        updated_at=now,
        processed_at=draft.processed_at or now,
    )
    if draft.fulfillment_status == "fulfilled":
        order = fulfil(order, FulfillmentCreatedFact(order_id=order.id, fulfillment_id=next(ids.object_ids)), now)
    return order


def _order_currency(draft: OrderDraft, variants: Mapping[int, VariantFact]) -> str:
    catalog_currencies = {
        variant.currency
        for item in draft.line_items
        if item.variant_id is not None and (variant := variants.get(item.variant_id)) is not None
    }
    currency = draft.currency or (min(catalog_currencies) if catalog_currencies else DEFAULT_CURRENCY)
    if currency_exponent(currency) is None:
        raise OrderRuleError("currency", "unsupported_currency", f"{currency} is not a supported ISO 4217 currency")
    return currency


def _line_item(
    index: int, item: LineItemDraft, item_id: int, currency: str, variants: Mapping[int, VariantFact]
) -> LineItemSnapshot:
    field = f"line_items[{index}]"
    if item.quantity < 1:
        raise OrderRuleError(f"{field}.quantity", "invalid_quantity", "quantity must be at least 1")
    variant = None
    if item.variant_id is not None:
        variant = variants.get(item.variant_id)
        if variant is None:
            raise OrderRuleError(
                f"{field}.variant_id", "unknown_variant", f"there is no product variant {item.variant_id}"
            )
        if variant.currency != currency and item.price is None:
            raise OrderRuleError(
                f"{field}.variant_id",
                "currency_mismatch",
                f"variant {variant.id} is priced in {variant.currency}, the order is in {currency}",
            )
    title = item.title or (variant.title if variant else None)
    if not title:
        raise OrderRuleError(f"{field}.title", "missing_title", "a line item without a variant_id needs a title")
    price = item.price if item.price is not None else (variant.price if variant else None)
    if price is None:
        raise OrderRuleError(f"{field}.price", "missing_price", "a line item without a variant_id needs a price")
    if price < 0:
        raise OrderRuleError(f"{field}.price", "negative_price", "price must not be negative")
    check_money(price, currency, f"{field}.price")
    variant_title = variant.variant_title if variant else None
    return LineItemSnapshot(
        id=item_id,
        variant_id=item.variant_id,
        product_id=variant.product_id if variant else None,
        sku=item.sku or (variant.sku if variant else None),
        title=title,
        variant_title=variant_title,
        name=f"{title} - {variant_title}" if variant_title else title,
        vendor=item.vendor or (variant.vendor if variant else None),
        price=money(price, currency),
        quantity=item.quantity,
        grams=item.grams if item.grams is not None else (variant.grams if variant else 0),
        properties=item.properties,
        taxable=item.taxable if item.taxable is not None else (variant.taxable if variant else True),
        requires_shipping=(
            item.requires_shipping
            if item.requires_shipping is not None
            else (variant.requires_shipping if variant else True)
        ),
        tax_lines=[],
        fulfillable_quantity=item.quantity,
        total_discount=money(Decimal(0), currency),
    )
