"""Anonymizing an order: which orders may be anonymized, and what of an order becomes `*`.

Eligible: cancelled, fulfilled or fully refunded (Elastic Path's rule), and with nothing still needing
the customer's data: no refund pending (it may pay to the guest's IBAN), no guest cancellation request
open. An anonymized order stays eligible, so anonymizing it again is a no-op.

An order carries when it became eligible (`eligible_since`), so that a retention policy elsewhere
(the anonymizer's) can count from it without a copy of this rule.

Masking replaces every present personal value with `*` and leaves absent ones absent; ids, money,
statuses, line items' titles, transactions and fulfilments (tracking numbers too) are kept.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Final, Literal

from services.order_api.domain.customers import is_guest
from services.order_api.domain.errors import OrderStateError
from shared.erasure import MASK
from shared.orders import Address, ClientDetails, CustomerSnapshot, NameValue, OrderSnapshot

Ineligibility = Literal["not_finished", "refund_pending", "request_active"]


def ineligibility(order: OrderSnapshot) -> Ineligibility | None:
    """Why the order may not be anonymized yet; None when it may."""
    if order.anonymized:
        return None
    finished = order.status == "cancelled" or order.fulfillment_status == "fulfilled"
    if not (finished or order.financial_status == "refunded"):
        return "not_finished"
    if any(refund.status == "pending" for refund in order.refunds):
        return "refund_pending"
    if any(item.active_request for item in order.line_items):
        return "request_active"
    return None


def with_eligible_since(order: OrderSnapshot) -> OrderSnapshot:
    """The changed order with `eligible_since` following its eligibility: while it is eligible, the time
    it became so (kept from before, else this change's time, `updated_at`); None while it is not, so an
    order that stops being eligible (a fulfilment cancelled, a refund or a guest request opened) starts
    again from the change that makes it eligible anew."""
    since = (order.eligible_since or order.updated_at) if ineligibility(order) is None else None
    return order if since == order.eligible_since else order.model_copy(update={"eligible_since": since})


def to_forget_now(order: OrderSnapshot) -> bool:
    """Whether the order's customer asked to be forgotten and it may now be anonymized (and is not yet):
    forget-when-eligible anonymizes it with the change that made it so."""
    return order.request_to_be_forgotten and not order.anonymized and ineligibility(order) is None


def _mask(value: str | None) -> str | None:
    return None if value is None else MASK


def _masked_values(pairs: list[NameValue]) -> list[NameValue]:
    return [pair.model_copy(update={"value": MASK}) for pair in pairs]


def _masked_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    return dict.fromkeys(metadata, MASK)


_ADDRESS_TEXT: Final = tuple(name for name, field in Address.model_fields.items() if field.annotation == (str | None))


def mask_address(address: Address | None) -> Address | None:
    """Every text of the address `*` (when present); its coordinates dropped."""
    if address is None:
        return None
    update: dict[str, object] = {name: _mask(getattr(address, name)) for name in _ADDRESS_TEXT}
    return address.model_copy(update={**update, "latitude": None, "longitude": None})


def mask_customer(customer: CustomerSnapshot | None) -> CustomerSnapshot | None:
    """The customer's personal fields `*`; its id, counts and totals kept."""
    if customer is None:
        return None
    names = ("email", "first_name", "last_name", "phone", "note")
    return customer.model_copy(update={name: _mask(getattr(customer, name)) for name in names})


def left_to_mask(customer: CustomerSnapshot) -> bool:
    """Whether masking the customer's record changes anything: not for a record masked before (or one
    holding no personal value), whose erasure is then done already."""
    return mask_customer(customer) != customer


def goes_with_last_order(customer: CustomerSnapshot, *, erasure_waits: bool) -> bool:
    """Whether the customer's record is masked once none of its orders is left to anonymize: when an
    erasure of the customer waits for that, or when it is a checkout record (a guest's, kept for its
    orders only; a registered account stays until its own erasure is asked for)."""
    return erasure_waits or is_guest(customer)


def checkout_email(customer: CustomerSnapshot) -> str | None:
    """The email whose checkout records a customer's erasure masks with the customer's own record:
    none when the customer has none, or has it masked already (`*` would match every erased record)."""
    return customer.email if customer.email not in (None, MASK) else None


def _mask_client(details: ClientDetails | None) -> ClientDetails | None:
    if details is None:
        return None
    names = ("browser_ip", "accept_language", "user_agent", "session_hash")
    update: dict[str, object] = {name: _mask(getattr(details, name)) for name in names}
    return details.model_copy(update={**update, "browser_width": None, "browser_height": None})


def mask_order(order: OrderSnapshot, now: datetime) -> OrderSnapshot:
    """The order anonymized at `now`: every personal value `*`, `anonymized` set."""
    return order.model_copy(
        update={
            "email": _mask(order.email),
            "phone": _mask(order.phone),
            "note": _mask(order.note),
            "browser_ip": _mask(order.browser_ip),
            "note_attributes": _masked_values(order.note_attributes),
            "metafields": [
                field.model_copy(update={"value": MASK, "value_type": "string"}) for field in order.metafields
            ],
            "metadata": _masked_metadata(order.metadata),
            "billing_address": mask_address(order.billing_address),
            "shipping_address": mask_address(order.shipping_address),
            "customer": mask_customer(order.customer),
            "client_details": _mask_client(order.client_details),
            "line_items": [
                item.model_copy(update={"properties": _masked_values(item.properties)}) for item in order.line_items
            ],
            "refunds": [refund.model_copy(update={"note": _mask(refund.note)}) for refund in order.refunds],
            "anonymized": True,
            "updated_at": now,
        }
    )


def check_still_masked(order: OrderSnapshot) -> None:
    """An anonymized order takes no personal data again: a change of it that masking would undo (an
    email, a note, metadata...) is refused, naming the fields; changes that hold none (tags, money,
    statuses) and the masked values sent back as they are pass."""
    masked = mask_order(order, order.updated_at)
    unmasked = [name for name in OrderSnapshot.model_fields if getattr(order, name) != getattr(masked, name)]
    if unmasked:
        raise OrderStateError(
            unmasked[0],
            "order_anonymized",
            f"the order is anonymized and cannot hold personal data again ({', '.join(unmasked)})",
        )
