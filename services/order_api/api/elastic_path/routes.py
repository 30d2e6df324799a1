"""The Elastic Path dialect's routes: `POST /v2/orders/anonymize` and `GET /v2/orders/{id}`, with Elastic
Path's own error shape (never RFC 9457 problems)."""

from typing import Annotated, Any, Final

from fastapi import APIRouter, Body, Response
from pydantic import BaseModel, ValidationError

from services.order_api.api.elastic_path.errors import elastic_path_error, elastic_path_problem_responses
from services.order_api.api.elastic_path.responses import elastic_path_order
from services.order_api.api.elastic_path.status import elastic_path_status
from services.order_api.api.http import EDGE_STATUSES, Anonymizations, Orders, json_response
from services.order_api.api.security import ANONYMIZES, READS
from services.order_api.domain.stored import order_id_named
from services.order_api.service.errors import OrderNotFound, OrdersNotAnonymizable, Refusal

MAX_ORDER_IDS: Final = 100
_TITLE: Final = "Could not anonymize orders"
_ONLY: Final = "only fulfilled or refunded or cancelled orders may be anonymized"

# Every route may also answer these, as problem documents with Elastic Path's `errors` (errors.py).
router = APIRouter(
    prefix="/v2/orders", tags=["Elastic Path orders"], responses=elastic_path_problem_responses(*EDGE_STATUSES)
)

# Elastic Path's error document (`errors`, one object), as `elastic_path_error` writes it.
_ERROR_SCHEMA: Final = {
    "type": "object",
    "required": ["errors"],
    "properties": {"errors": {"type": "object", "required": ["status", "title", "detail"]}},
}


def _documented(status: int, description: str, *, problems_too: bool = False) -> dict[int | str, dict[str, Any]]:
    """An Elastic Path error answer; `problems_too` when the platform's edge (an Idempotency-Key
    reused, say) may answer the same status as a problem document (with Elastic Path's `errors`)."""
    content: dict[str, Any] = {"application/json": {"schema": _ERROR_SCHEMA}}
    if problems_too:
        content |= elastic_path_problem_responses(status)[status]["content"]
    return {status: {"description": description, "content": content}}


class _Ids(BaseModel):
    order_ids: list[str]


class AnonymizeRequest(BaseModel):
    data: _Ids


def _unprocessable(detail: str, refusal: Refusal | None = None, title: str = _TITLE) -> Response:
    order_id = refusal.order_id if refusal is not None else None
    return json_response(elastic_path_error(422, title, detail, order_id), 422)


def _refusal_detail(refusal: Refusal) -> str:
    if refusal.order is None:
        return f"Order {refusal.order_id} not found"
    if refusal.reason == "refund_pending":
        return f"Order has a refund pending; {_ONLY} once it settles"
    if refusal.reason == "request_active":
        return f"Order has an open cancellation request; {_ONLY} once it is decided"
    triple = elastic_path_status(refusal.order)
    return f"Order has status: order:{triple.status}, payment:{triple.payment}, shipping:{triple.shipping}; {_ONLY}"


@router.post(
    "/anonymize",
    operation_id="anonymizeOrders",
    dependencies=ANONYMIZES,
    responses=_documented(
        422, "An order may not be anonymized, or the body is invalid; nothing changed", problems_too=True
    ),
)
async def anonymize_orders(anonymizations: Anonymizations, body: Annotated[Any, Body()] = None) -> Response:
    """Anonymize orders that are fulfilled, cancelled or fully refunded: all of them, or none (422)."""
    try:
        request = AnonymizeRequest.model_validate(body)
    except ValidationError:
        return _unprocessable('The body must be {"data": {"order_ids": ["..."]}}', title="Invalid request")
    ids = request.data.order_ids
    if not ids or len(ids) > MAX_ORDER_IDS:
        return _unprocessable(f"Give between 1 and {MAX_ORDER_IDS} order ids; got {len(ids)}")
    try:
        anonymized = await anonymizations.anonymize_orders(ids)
    except OrdersNotAnonymizable as refused:
        first = refused.refused[0]
        return _unprocessable(_refusal_detail(first), first)
    return json_response({"data": [elastic_path_order(stored.order) for stored in anonymized]})


@router.get("/{order_id}", operation_id="getOrder", dependencies=READS, responses=_documented(404, "No such order"))
async def get_order(orders: Orders, order_id: str) -> Response:
    """An order in Elastic Path's shape."""
    named = order_id_named(order_id)
    try:
        stored = await orders.get_order(named) if named is not None else None
    except OrderNotFound:
        stored = None
    if stored is None:
        return json_response(elastic_path_error(404, "Not Found", f"Order {order_id} not found"), 404)
    return json_response({"data": elastic_path_order(stored.order)}, sequence=stored.sequence)
