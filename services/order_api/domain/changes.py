"""What may change after an order is created, and when: updates, closing, reopening, deleting."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.order_api.domain.errors import OrderStateError
from services.order_api.domain.limits import MAX_METADATA, MAX_METAFIELDS, check_count
from services.order_api.domain.tags import normalise_tags
from shared.orders import Metafield, NameValue, OrderSnapshot


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
    if order.request_to_be_forgotten and changes.request_to_be_forgotten is False:
        # The anonymizer shows the request waiting (or a customer erasure asked for it): it is kept,
        # and the order is anonymized once it is done.
        raise OrderStateError(
            "request_to_be_forgotten",
            "forget_request_final",
            "the customer's request to be forgotten cannot be withdrawn; the order is anonymized once it is "
            "fulfilled, cancelled or refunded",
        )
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
    """Money that moved stays on record: an order is deleted only once closed or cancelled, or unpaid,
    and never while a refund of it waits for the payment service (whose answer names the order), nor
    while its customer's request to be forgotten waits for it."""
    if order.status == "open" and order.financial_status not in ("pending", "voided"):
        raise OrderStateError(
            "status",
            "order_not_deletable",
            f"an open {order.financial_status} order cannot be deleted; close or cancel it first",
        )
    if any(refund.status != "success" for refund in order.refunds):
        raise OrderStateError(
            "refunds",
            "order_not_deletable",
            "a refund of the order is not paid back yet; delete it once the refund has succeeded",
        )
    if order.request_to_be_forgotten and not order.anonymized:
        # Deleted, it could never be anonymized: the other services' copies of it would keep the
        # personal data, and its erasure would wait forever.
        raise OrderStateError(
            "request_to_be_forgotten",
            "order_not_deletable",
            "the customer asked to be forgotten and the order is not anonymized yet; cancel it first "
            "(which anonymizes it), then delete it",
        )
