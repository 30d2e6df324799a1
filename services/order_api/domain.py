"""Pure order rules: building an order from a draft, money math, the state machine and its views.

No I/O: what the rules need from storage (catalog variants, the customer, fresh ids) is passed in.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Final, Literal

from shared.orders import (
    CustomerSnapshot,
    FinancialStatus,
    Fulfillment,
    FulfillmentCreatedFact,
    FulfillmentLine,
    FulfillmentStatus,
    LineItemDraft,
    LineItemSnapshot,
    Metafield,
    NameValue,
    OrderDraft,
    OrderSnapshot,
    OrderStatus,
    PaymentFact,
    Transaction,
    TransactionKind,
    VariantFact,
)

# ISO 4217 minor units of the currencies we accept; absent means unsupported. Most have 2.
_ZERO_DECIMAL: Final = frozenset("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split())
_THREE_DECIMAL: Final = frozenset("BHD IQD JOD KWD LYD OMR TND".split())
_TWO_DECIMAL: Final = frozenset(
    """AED ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BWP BYN BZD CAD CDF CHF
    CNY COP CRC CVE CZK DKK DOP DZD EGP ETB EUR FJD GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR
    ILS INR JMD KES KGS KHR KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MUR MVR MWK MXN
    MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SEK SGD SHP
    SLE SOS SRD SZL THB TJS TOP TRY TTD TWD TZS UAH USD UYU UZS WST XCD YER ZAR ZMW""".split()
)

DEFAULT_CURRENCY: Final = "USD"
MAX_TAG_LENGTH: Final = 40
# What an order may hold, after every merge and appended fact: the documents' own bounds where they
# give one (Haravan creates up to 250 line items and 100 metafields; Digital River's metadata has up
# to 50 pairs), and room for any real order's payments and shipments. Together with the event-size
# limit they keep every order's event publishable.
MAX_LINE_ITEMS: Final = 250
MAX_METAFIELDS: Final = 100
MAX_METADATA: Final = 50
MAX_TRANSACTIONS: Final = 250
MAX_FULFILLMENTS: Final = 250
# A rule about the order as a whole rather than one of its fields; each dialect names it its own way.
WHOLE_ORDER: Final = ""
FIRST_ORDER_NUMBER: Final = 1001
# Amounts are stored as numeric(20, 4): at most 16 digits before the point.
MAX_AMOUNT: Final = Decimal(10) ** 16


def currency_exponent(currency: str) -> int | None:
    """Digits after the decimal point in `currency`, or None when we do not support it."""
    if currency in _ZERO_DECIMAL:
        return 0
    if currency in _THREE_DECIMAL:
        return 3
    if currency in _TWO_DECIMAL:
        return 2
    return None


def money(amount: Decimal, currency: str) -> Decimal:
    """`amount` at the currency's precision (the database keeps four places for every currency)."""
    exponent = currency_exponent(currency)
    # `+ 0` makes a negative zero (a price sent as "-0") a plain 0.00.
    return amount if exponent is None else amount.quantize(Decimal(1).scaleb(-exponent)) + 0


def order_name(order_number: int) -> str:
    """The order's display name, as the Haravan document shows it (`#1001`)."""
    return f"#{order_number}"


class OrderRuleError(ValueError):
    """Well-typed input that breaks an order rule (HTTP 422); `field` names what to fix."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message


class OrderStateError(OrderRuleError):
    """A change the order's current state does not allow (HTTP 409)."""


class ReadAccessRequired(OrderRuleError):
    """A request only a caller that may read orders can make, from one that may not (HTTP 403)."""


def check_count(field: str, count: int, limit: int) -> None:
    """An order's list or map `field` may hold at most `limit` entries, however it grew."""
    if count > limit:
        raise OrderRuleError(
            field, "too_many_entries", f"{field} may hold at most {limit} entries; this would make {count}"
        )


def check_event_size(size: int, limit: int) -> None:
    """A change is refused when its event, carrying the whole order, would be larger than `limit`
    bytes: Kafka takes records of about 1 MiB at most, and an event it refuses would never reach
    anyone, while the API had answered that the change was made."""
    if size > limit:
        raise OrderRuleError(
            WHOLE_ORDER,
            "order_too_large",
            f"the order would take {size:,} bytes as an event, over the limit of {limit:,}; "
            "send less text (notes, metafields, properties, addresses)",
        )


# ---- building an order ---------------------------------------------------------------------------


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
        line.model_copy(update={"price": _check_money(line.price, currency, f"shipping_lines[{index}].price")})
        for index, line in enumerate(draft.shipping_lines)
    ]
    tax_lines = [
        tax.model_copy(update={"price": _check_money(tax.price, currency, f"tax_lines[{index}].price")})
        for index, tax in enumerate(draft.tax_lines)
    ]
    discount_codes = [
        code.model_copy(update={"amount": _check_money(code.amount, currency, f"discount_codes[{index}].amount")})
        for index, code in enumerate(draft.discount_codes)
    ]
    transactions = [
        Transaction(
            id=next(ids.object_ids),
            kind=tx.kind,
            status=tx.status,
            amount=_check_money(tx.amount, currency, f"transactions[{index}].amount"),
            currency=currency,
            gateway=tx.gateway,
            authorization=tx.authorization,
            created_at=now,
        )
        for index, tx in enumerate(draft.transactions)
    ]
    tax_from_lines = sum((tax.price for tax in draft.tax_lines), Decimal(0))
    if draft.total_tax is not None:
        _check_money(draft.total_tax, currency, "total_tax")
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
        total_price=money(total, currency),
        total_weight=sum(item.grams * item.quantity for item in line_items),
        taxes_included=draft.taxes_included,
        status="open",
        financial_status="pending",
        source_name=draft.source_name,
        upstream_id=draft.upstream_id,
        checkout_id=draft.checkout_id,
        application_id=draft.application_id,
        locale=draft.locale,
        customer_type=draft.customer_type,
        charge_type=draft.charge_type,
        subscription_id=draft.subscription_id,
        source_id=draft.source_id,
        invoice_attribute_id=draft.invoice_attribute_id,
        metadata=draft.metadata,
        guest=is_guest(customer),
        created_at=now,
        updated_at=now,
        processed_at=draft.processed_at or now,
    )
    order = order.model_copy(
        update={"financial_status": _stated_financial_status(draft.financial_status, order.total_price, transactions)}
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
    _check_money(price, currency, f"{field}.price")
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
        fulfillable_quantity=item.quantity,
        total_discount=money(Decimal(0), currency),
    )


def _check_money(amount: Decimal, currency: str, field: str) -> Decimal:
    exponent = currency_exponent(currency)
    assert exponent is not None
    if abs(amount) >= MAX_AMOUNT:
        raise OrderRuleError(field, "amount_too_large", f"amounts must be below {MAX_AMOUNT:,}")
    if amount != amount.quantize(Decimal(1).scaleb(-exponent)):
        raise OrderRuleError(
            field, "too_precise", f"{currency} amounts have {exponent} decimal places; {amount} has more"
        )
    if amount < 0:
        raise OrderRuleError(field, "negative_amount", "amounts must not be negative")
    return money(amount, currency)


def normalise_tags(tags: str) -> str:
    """`"a,b , c"` -> `"a, b, c"`; each tag at most 40 characters, as the Haravan document says."""
    parts = [tag.strip() for tag in tags.split(",") if tag.strip()]
    for tag in parts:
        if len(tag) > MAX_TAG_LENGTH:
            raise OrderRuleError(
                "tags", "tag_too_long", f"tag {tag[:20]!r}... is longer than {MAX_TAG_LENGTH} characters"
            )
    return ", ".join(dict.fromkeys(parts))


def is_guest(customer: CustomerSnapshot | None) -> bool:
    """A guest order has no registered customer account behind it (only, perhaps, a record made at checkout)."""
    return customer is None or customer.state != "enabled"


def as_seen_without_read(order: OrderSnapshot) -> OrderSnapshot:
    """The order as a caller that may change orders but not read them is shown it: without its
    customer record. That record holds what the account's owner or earlier orders gave (names,
    phone, note, order count, lifetime spend), not what this caller sent."""
    return order.model_copy(update={"customer": None})


# ---- status views: one state, several dialects ------------------------------------------------


def _succeeded(transactions: Sequence[Transaction], *kinds: TransactionKind) -> Decimal:
    return sum((tx.amount for tx in transactions if tx.kind in kinds and tx.status == "success"), Decimal(0))


def financial_status(total: Decimal, transactions: Sequence[Transaction]) -> FinancialStatus:
    """The payment status the successful transactions add up to."""
    captured = _succeeded(transactions, "sale", "capture")
    refunded = _succeeded(transactions, "refund")
    if refunded > 0:
        return "refunded" if refunded >= captured else "partially_refunded"
    if captured > 0:
        return "paid" if captured >= total else "partially_paid"
    if _succeeded(transactions, "void") > 0:
        return "voided"
    if _succeeded(transactions, "authorization") > 0:
        return "authorized"
    return "paid" if total == 0 else "pending"


_REFUND_STATUSES: Final[frozenset[FinancialStatus]] = frozenset({"refunded", "partially_refunded"})


def _stated_financial_status(
    stated: FinancialStatus | None, total: Decimal, transactions: Sequence[Transaction]
) -> FinancialStatus:
    """A new order's payment status: the one stated (an import knows its history better than its
    transactions may tell), else what the transactions make it. Money never goes back that did not
    come in, though: refunds may not exceed what was captured, and an order is refunded exactly when
    its refund transactions make it so."""
    captured, refunded = _succeeded(transactions, "sale", "capture"), _succeeded(transactions, "refund")
    if refunded > captured:
        raise OrderRuleError(
            "transactions",
            "refund_exceeds_captured",
            f"refunds add up to {refunded}, more than the {captured} captured",
        )
    computed = financial_status(total, transactions)
    if stated is None:
        return computed
    if (stated in _REFUND_STATUSES or computed in _REFUND_STATUSES) and stated != computed:
        raise OrderRuleError(
            "financial_status",
            "financial_status_mismatch",
            f"the transactions make the order {computed}, not {stated}: refunds are what refund transactions make",
        )
    return stated


def order_status(order: OrderSnapshot) -> OrderStatus:
    if order.cancelled_at is not None:
        return "cancelled"
    if order.closed_at is not None:
        return "closed"
    return "open"


DigitalRiverState = Literal[
    "accepted", "blocked", "pending_payment", "in_review", "dispute", "cancelled", "fulfilled", "complete", "returned"
]


def digital_river_state(order: OrderSnapshot) -> DigitalRiverState:
    """The Digital River `state` of an order."""
    if order.status == "cancelled":
        return "cancelled"
    if order.fraud_state == "blocked":
        return "blocked"
    if order.fraud_state == "review_opened":
        return "in_review"
    if order.financial_status in ("refunded", "partially_refunded"):
        return "returned"
    if order.fulfillment_status == "fulfilled":
        return "complete" if order.financial_status == "paid" else "fulfilled"
    if order.financial_status in ("pending", "partially_paid"):
        return "pending_payment"
    return "accepted"


@dataclass(frozen=True, slots=True)
class ElasticPathStatus:
    status: Literal["incomplete", "processing", "complete", "cancelled"]
    payment: Literal["unpaid", "authorized", "paid", "refunded"]
    shipping: Literal["unfulfilled", "fulfilled"]


def elastic_path_status(order: OrderSnapshot) -> ElasticPathStatus:
    """Elastic Path's status / payment / shipping triple."""
    payment: Literal["unpaid", "authorized", "paid", "refunded"] = {
        "paid": "paid",
        "partially_refunded": "paid",
        "refunded": "refunded",
        "authorized": "authorized",
        "partially_paid": "authorized",
    }.get(order.financial_status, "unpaid")  # type: ignore[assignment]
    shipping: Literal["unfulfilled", "fulfilled"] = (
        "fulfilled" if order.fulfillment_status == "fulfilled" else "unfulfilled"
    )
    if order.status == "cancelled":
        return ElasticPathStatus("cancelled", payment, shipping)
    if payment in ("paid", "refunded") and shipping == "fulfilled":
        return ElasticPathStatus("complete", payment, shipping)
    return ElasticPathStatus("processing" if payment != "unpaid" else "incomplete", payment, shipping)


@dataclass(frozen=True, slots=True)
class LineItemTax:
    line_item_id: int
    taxable_amount: Decimal
    tax_amount: Decimal
    rate: Decimal


def line_item_taxes(order: OrderSnapshot) -> list[LineItemTax]:
    """Each line item's tax (Digital River's tax details). Items that carry tax lines report them; else
    each of the order's tax lines is split across the taxable items in proportion to their amounts,
    rounded down to the currency's precision, the last taxable item taking the remainder so the shares
    add up to the tax line exactly (rounding down keeps that remainder from going negative)."""
    currency = order.currency
    amounts = {item.id: money(item.price * item.quantity - item.total_discount, currency) for item in order.line_items}
    if any(item.tax_lines for item in order.line_items):
        return [
            LineItemTax(
                item.id,
                amounts[item.id] if item.taxable else money(Decimal(0), currency),
                money(sum((tax.price for tax in item.tax_lines), Decimal(0)), currency),
                sum((tax.rate for tax in item.tax_lines), Decimal(0)),
            )
            for item in order.line_items
        ]
    taxable = [item for item in order.line_items if item.taxable]
    base = sum((amounts[item.id] for item in taxable), Decimal(0))
    exponent = currency_exponent(currency)
    quantum = Decimal(1).scaleb(-(2 if exponent is None else exponent))
    shares = {item.id: Decimal(0) for item in taxable}
    for tax in order.tax_lines:
        allocated = Decimal(0)
        for item in taxable[:-1]:
            share = (tax.price * amounts[item.id] / base).quantize(quantum, ROUND_DOWN) if base else Decimal(0)
            shares[item.id] += share
            allocated += share
        if taxable:
            shares[taxable[-1].id] += tax.price - allocated
    rate = sum((tax.rate for tax in order.tax_lines), Decimal(0))
    zero = money(Decimal(0), currency)
    return [
        LineItemTax(item.id, amounts[item.id], money(shares[item.id], currency), rate)
        if item.taxable
        else LineItemTax(item.id, zero, zero, Decimal(0))
        for item in order.line_items
    ]


# ---- changes ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderChanges:
    """What may change after creation. Items and quantities may not (the Haravan document says so).

    `None` leaves a field as it is; `remove_customer` detaches the customer (the order stays the
    guest or account order it was placed as).
    """

    note: str | None = None
    note_attributes: list[NameValue] | None = None
    email: str | None = None
    buyer_accepts_marketing: bool | None = None
    metafields: list[Metafield] | None = None
    tags: str | None = None
    remove_customer: bool = False
    request_to_be_forgotten: bool | None = None
    upstream_id: str | None = None
    metadata: dict[str, str] | None = None


def update(order: OrderSnapshot, changes: OrderChanges, now: datetime) -> OrderSnapshot:
    fields: dict[str, object] = {
        name: value
        for name, value in (
            ("note", changes.note),
            ("note_attributes", changes.note_attributes),
            ("email", changes.email),
            ("buyer_accepts_marketing", changes.buyer_accepts_marketing),
            ("request_to_be_forgotten", changes.request_to_be_forgotten),
            ("upstream_id", changes.upstream_id),
        )
        if value is not None
    }
    if changes.tags is not None:
        fields["tags"] = normalise_tags(changes.tags)
    if changes.metafields is not None:
        fields["metafields"] = metafields = _merge_metafields(order.metafields, changes.metafields)
        check_count("metafields", len(metafields), MAX_METAFIELDS)
    if changes.metadata is not None:
        fields["metadata"] = metadata = {**order.metadata, **changes.metadata}
        check_count("metadata", len(metadata), MAX_METADATA)
    if changes.remove_customer:
        # `guest` stays: an order placed with an account is not a guest's, and the public guest
        # lookup must not start answering for it because its customer was detached.
        fields["customer"] = None
    return order.model_copy(update={**fields, "updated_at": now})


def _merge_metafields(current: Sequence[Metafield], new: Sequence[Metafield]) -> list[Metafield]:
    """New metafields replace those with the same namespace and key; others are added."""
    merged = {(field.namespace, field.key): field for field in current}
    merged.update({(field.namespace, field.key): field for field in new})
    return list(merged.values())


def close(order: OrderSnapshot, now: datetime) -> OrderSnapshot:
    if order.status != "open":
        raise OrderStateError(
            "status", "order_not_open", f"only an open order can be closed; this one is {order.status}"
        )
    return order.model_copy(update={"closed_at": now, "status": "closed", "updated_at": now})


def reopen(order: OrderSnapshot, now: datetime) -> OrderSnapshot:
    if order.status != "closed":
        raise OrderStateError(
            "status",
            "order_not_closed",
            f"only a closed, not cancelled order can be reopened; this one is {order.status}",
        )
    return order.model_copy(update={"closed_at": None, "status": "open", "updated_at": now})


def check_deletable(order: OrderSnapshot) -> None:
    """Money that moved stays on record: an order is deleted only once closed or cancelled, or unpaid."""
    if order.status == "open" and order.financial_status not in ("pending", "voided"):
        raise OrderStateError(
            "status",
            "order_not_deletable",
            f"an open {order.financial_status} order cannot be deleted; close or cancel it first",
        )


# ---- facts from other services --------------------------------------------------------------------

PaymentKind = Literal["authorized", "captured", "voided"]
_TRANSACTION_KIND: Final[dict[PaymentKind, TransactionKind]] = {
    "authorized": "authorization",
    "captured": "capture",
    "voided": "void",
}


def apply_payment(
    order: OrderSnapshot, kind: PaymentKind, fact: PaymentFact, transaction_id: int, now: datetime
) -> tuple[OrderSnapshot, str]:
    """Record a payment fact; returns the order and the event it warrants (`order.paid` when it becomes paid)."""
    if fact.currency != order.currency:
        raise OrderRuleError("currency", "currency_mismatch", f"payment in {fact.currency}, order in {order.currency}")
    if order.status == "cancelled" and kind != "voided":
        raise OrderStateError("status", "order_cancelled", "a cancelled order takes no payment")
    transaction = Transaction(
        id=transaction_id,
        kind=_TRANSACTION_KIND[kind],
        status="success",
        amount=_check_money(fact.amount, order.currency, "amount"),
        currency=order.currency,
        gateway=fact.gateway,
        authorization=fact.authorization,
        created_at=now,
    )
    transactions = [*order.transactions, transaction]
    check_count("transactions", len(transactions), MAX_TRANSACTIONS)
    status = financial_status(order.total_price, transactions)
    updated = order.model_copy(update={"transactions": transactions, "financial_status": status, "updated_at": now})
    became_paid = status == "paid" and order.financial_status != "paid"
    return updated, "order.paid" if became_paid else "order.updated"


def fulfil(order: OrderSnapshot, fact: FulfillmentCreatedFact, now: datetime) -> OrderSnapshot:
    """Ship items: the named quantities, or everything still unfulfilled when none are named."""
    if order.status == "cancelled":
        raise OrderStateError("status", "order_cancelled", "a cancelled order cannot be fulfilled")
    if any(existing.id == fact.fulfillment_id for existing in order.fulfillments):
        raise OrderStateError("fulfillment_id", "duplicate_fulfillment", f"fulfillment {fact.fulfillment_id} exists")
    by_id = {item.id: item for item in order.line_items}
    wanted = (
        {line.line_item_id: line.quantity for line in fact.line_items}
        if fact.line_items
        else {item.id: item.fulfillable_quantity for item in order.line_items if item.fulfillable_quantity > 0}
    )
    if len(wanted) < len(fact.line_items):
        raise OrderRuleError("line_items", "duplicate_line_item", "name each line item once per fulfillment")
    if not wanted:
        raise OrderStateError("line_items", "nothing_to_fulfil", "every item of this order is already fulfilled")
    for item_id, quantity in wanted.items():
        item = by_id.get(item_id)
        if item is None:
            raise OrderRuleError("line_items", "unknown_line_item", f"line item {item_id} is not in order {order.id}")
        if not 0 < quantity <= item.fulfillable_quantity:
            raise OrderRuleError(
                "line_items",
                "invalid_quantity",
                f"line item {item_id} has {item.fulfillable_quantity} left to fulfil, not {quantity}",
            )
    fulfillment = Fulfillment(
        id=fact.fulfillment_id,
        status="success",
        line_items=[FulfillmentLine(id=item_id, quantity=quantity) for item_id, quantity in wanted.items()],
        tracking_company=fact.tracking_company,
        tracking_number=fact.tracking_number,
        tracking_url=fact.tracking_url,
        created_at=now,
        updated_at=now,
    )
    fulfillments = [*order.fulfillments, fulfillment]
    check_count("fulfillments", len(fulfillments), MAX_FULFILLMENTS)
    return _with_fulfillments(order, fulfillments, now)


def cancel_fulfillment(order: OrderSnapshot, fulfillment_id: int, now: datetime) -> OrderSnapshot:
    target = next((f for f in order.fulfillments if f.id == fulfillment_id), None)
    if target is None:
        raise OrderRuleError(
            "fulfillment_id", "unknown_fulfillment", f"order {order.id} has no fulfillment {fulfillment_id}"
        )
    if target.status == "cancelled":
        raise OrderStateError(
            "fulfillment_id", "fulfillment_cancelled", f"fulfillment {fulfillment_id} is already cancelled"
        )
    fulfillments = [
        f.model_copy(update={"status": "cancelled", "updated_at": now}) if f.id == fulfillment_id else f
        for f in order.fulfillments
    ]
    return _with_fulfillments(order, fulfillments, now)


def _with_fulfillments(order: OrderSnapshot, fulfillments: list[Fulfillment], now: datetime) -> OrderSnapshot:
    shipped: dict[int, int] = {}
    for fulfillment in fulfillments:
        if fulfillment.status == "success":
            for line in fulfillment.line_items:
                shipped[line.id] = shipped.get(line.id, 0) + line.quantity
    items = [
        item.model_copy(
            update={
                "fulfillable_quantity": item.quantity - shipped.get(item.id, 0),
                "fulfillment_status": _fulfillment_status(shipped.get(item.id, 0), item.quantity),
            }
        )
        for item in order.line_items
    ]
    return order.model_copy(
        update={
            "fulfillments": fulfillments,
            "line_items": items,
            "fulfillment_status": _fulfillment_status(sum(shipped.values()), sum(i.quantity for i in items)),
            "updated_at": now,
        }
    )


def _fulfillment_status(shipped: int, ordered: int) -> FulfillmentStatus | None:
    if shipped == 0:
        return None
    return "fulfilled" if shipped >= ordered else "partial"


def fulfillment_event(order: OrderSnapshot) -> str:
    """The lifecycle event a fulfillment change warrants."""
    return {"fulfilled": "order.fulfilled", "partial": "order.partially_fulfilled"}.get(
        order.fulfillment_status or "", "order.updated"
    )
