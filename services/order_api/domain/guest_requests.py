"""Guest cancellation requests (Akinon): what a guest may ask of their own order, checked against it.

A request names a line item, how many of its units, a reason, and whether the units are cancelled
(`cancel`, units not shipped yet) or sent back (`refund`, the easy return, which needs an active
easy-return shipping company); a bank account (IBAN and holder) may come with it for orders paid
cash on delivery. order_api accepts a request, or a bulk of them all or nothing, and flags the items;
the cancellation worker decides. Each refusal has its own stable Akinon-style code.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from services.order_api.domain.errors import OrderRuleError, OrderStateError
from shared.cancellations import BankAccount, CancellationType, SubmittedItem
from shared.orders import LineItemSnapshot, OrderSnapshot
from shared.refund_math import refunded_quantities

MAX_IBAN_LENGTH: Final = 34
MAX_HOLDER_NAME_LENGTH: Final = 255

# The document's one code, and ours for every other refusal, in the same family.
ACTIVE_REQUEST: Final = "cancellation_request_100_1"
UNKNOWN_ITEM: Final = "cancellation_request_100_2"
INVALID_QUANTITY: Final = "cancellation_request_100_3"
UNKNOWN_REASON: Final = "cancellation_request_100_4"
SHIPPING_COMPANY_REQUIRED: Final = "cancellation_request_100_5"
UNKNOWN_SHIPPING_COMPANY: Final = "cancellation_request_100_6"
IBAN_TOO_LONG: Final = "cancellation_request_100_7"
INVALID_IBAN: Final = "cancellation_request_100_8"
INCOMPLETE_BANK_ACCOUNT: Final = "cancellation_request_100_9"
HOLDER_NAME_TOO_LONG: Final = "cancellation_request_100_10"


class RequestRefused(OrderRuleError):
    """A guest request the order or the reference data refuse (HTTP 422), with its Akinon code."""


class RequestConflict(OrderStateError):
    """A request for an item that has one waiting already (HTTP 409, `cancellation_request_100_1`)."""


@dataclass(frozen=True, slots=True)
class RequestedItem:
    """One item of a guest request; `field` is where the request names it (`cancel_order_items[1]` in
    a bulk request, "" in a single one)."""

    field: str
    line_item_id: int
    reason_id: int
    cancellation_type: CancellationType
    quantity: int | None = None  # every unit still cancellable when None
    description: str | None = None
    shipping_company_id: int | None = None
    pickup_date: str | None = None

    def at(self, name: str) -> str:
        return f"{self.field}.{name}" if self.field else name


def iban_is_valid(iban: str) -> bool:
    """ISO 13616: two letters, two check digits, up to 30 letters or digits, and mod-97 of the
    rearranged number is 1."""
    if not (15 <= len(iban) <= MAX_IBAN_LENGTH and iban.isascii() and iban.isalnum()):
        return False
    if not (iban[:2].isalpha() and iban[2:4].isdigit()):
        return False
    digits = "".join(str(int(char, 36)) for char in (iban[4:] + iban[:4]).upper())
    return int(digits) % 97 == 1


def bank_account(iban: str | None, holder_name: str | None) -> BankAccount | None:
    """The refund's bank account: an IBAN (spaces allowed, as people write it) with its holder's name,
    both or neither."""
    if iban is None and holder_name is None:
        return None
    if iban is None or not iban.strip():
        raise RequestRefused("iban", INCOMPLETE_BANK_ACCOUNT, "an account holder's name comes with an IBAN")
    compact = "".join(iban.split()).upper()
    if len(compact) > MAX_IBAN_LENGTH:
        raise RequestRefused("iban", IBAN_TOO_LONG, f"an IBAN has at most {MAX_IBAN_LENGTH} characters")
    if not iban_is_valid(compact):
        raise RequestRefused("iban", INVALID_IBAN, "is not a valid IBAN (its check digits do not match)")
    if holder_name is None or not holder_name.strip():
        raise RequestRefused("holder_name", INCOMPLETE_BANK_ACCOUNT, "an IBAN needs the account holder's name")
    if len(holder_name) > MAX_HOLDER_NAME_LENGTH:
        raise RequestRefused("holder_name", HOLDER_NAME_TOO_LONG, f"at most {MAX_HOLDER_NAME_LENGTH} characters")
    return BankAccount(iban=compact, holder_name=holder_name.strip())


def cancellable_units(order: OrderSnapshot, item: LineItemSnapshot, cancellation_type: CancellationType) -> int:
    """Units a guest may still ask about: to cancel, those neither shipped, cancelled nor refunded; to
    send back, those neither cancelled nor refunded (refunds pending or failed hold theirs too)."""
    refunded = refunded_quantities(order).get(item.id, 0)
    if cancellation_type == "cancel":
        return max(0, min(item.fulfillable_quantity, item.quantity - refunded))
    return max(0, item.quantity - item.cancelled_quantity - refunded)


def accept_requests(
    order: OrderSnapshot,
    requested: Sequence[RequestedItem],
    request_ids: Sequence[int],
    now: datetime,
    *,
    reasons: Collection[int],
    return_companies: Collection[int],
) -> tuple[OrderSnapshot, list[SubmittedItem]]:
    """Every item checked (it belongs to the order, has no request waiting, the quantity is there, the
    reason exists, a return names an active easy-return company), then all accepted together: the
    items flagged, and each request as the worker receives it. The first refusal refuses them all."""
    items = {item.id: item for item in order.line_items}
    flagged: set[int] = set()
    submitted = []
    for one, request_id in zip(requested, request_ids, strict=True):
        item = items.get(one.line_item_id)
        if item is None:
            raise RequestRefused(
                one.at("order_item"), UNKNOWN_ITEM, f"order {order.order_number} has no item {one.line_item_id}"
            )
        if item.active_request or item.id in flagged:
            raise RequestConflict(
                one.at("order_item"), ACTIVE_REQUEST, f"item {item.id} has a cancellation request already"
            )
        left = cancellable_units(order, item, one.cancellation_type)
        quantity = left if one.quantity is None else one.quantity
        if not 1 <= quantity <= left:
            raise RequestRefused(
                one.at("quantity"),
                INVALID_QUANTITY,
                f"item {item.id} has {left} unit(s) that can be asked to {one.cancellation_type}, not {quantity}",
            )
        if one.reason_id not in reasons:
            raise RequestRefused(one.at("reason"), UNKNOWN_REASON, f"there is no cancellation reason {one.reason_id}")
        _check_shipping_company(one, return_companies)
        flagged.add(item.id)
        submitted.append(
            SubmittedItem(
                request_id=request_id,
                line_item_id=item.id,
                quantity=quantity,
                reason_id=one.reason_id,
                cancellation_type=one.cancellation_type,
                description=one.description,
                shipping_company_id=one.shipping_company_id,
                pickup_date=one.pickup_date,
            )
        )
    line_items = [
        item.model_copy(update={"active_request": True}) if item.id in flagged else item for item in order.line_items
    ]
    return order.model_copy(update={"line_items": line_items, "updated_at": now}), submitted


def _check_shipping_company(one: RequestedItem, return_companies: Collection[int]) -> None:
    if one.cancellation_type == "refund" and one.shipping_company_id is None:
        raise RequestRefused(
            one.at("shipping_company"), SHIPPING_COMPANY_REQUIRED, "a refund (easy return) needs a shipping company"
        )
    if one.shipping_company_id is not None and one.shipping_company_id not in return_companies:
        raise RequestRefused(
            one.at("shipping_company"),
            UNKNOWN_SHIPPING_COMPANY,
            f"{one.shipping_company_id} is not an active easy-return shipping company",
        )
