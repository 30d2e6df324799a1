"""The Haravan dialect's cancel and refunds, as Shopify has them: `POST /com/orders/{id}/cancel.json`,
`POST /com/orders/{id}/refunds/calculate.json`, `POST/GET /com/orders/{id}/refunds.json`,
`GET /com/orders/{id}/refunds/{refund_id}.json`.

Money goes back through the payment service: a cancel or refund answers at once with the refund
pending, unless the caller sent `Prefer: wait=N`, which waits up to N seconds (at most 30) for it to
settle (`Preference-Applied: wait=N`).
"""

from typing import Annotated, Final

from fastapi import APIRouter, Body, Path, Query, Response

from services.order_api.api.fields import Money
from services.order_api.api.haravan.errors import fields_under
from services.order_api.api.haravan.errors import haravan_problem_responses as problem_responses
from services.order_api.api.haravan.refund_requests import CancelIn, RefundBody
from services.order_api.api.haravan.refund_responses import RefundCalculationEnvelope, refund_calculation
from services.order_api.api.haravan.responses import OrderEnvelope, RefundEnvelope, RefundListEnvelope
from services.order_api.api.haravan.routes import EDGE_PROBLEMS, ETAG, OrderId, order_response
from services.order_api.api.haravan.translation import haravan_refunds
from services.order_api.api.http import IfMatch, Orders, Refunds, json_response
from services.order_api.api.prefer import PREFERENCE_APPLIED, PreferWait, applied
from services.order_api.api.security import READS, MayRead
from services.order_api.domain.stored import StoredOrder
from services.order_api.service.refunds import Refunded, RefundService
from shared.fields import MAX_BIGINT
from shared.orders import CancelReason
from shared.problems import Problem

router = APIRouter(prefix="/com", tags=["Haravan refunds"], responses=EDGE_PROBLEMS)

RefundId = Annotated[int, Path(ge=1, le=MAX_BIGINT, description="The refund id")]
_LOCATION: Final = {"Location": {"description": "The new refund's URL", "schema": {"type": "string"}}}
_CANCEL_EXAMPLES: Final = {
    "refund_everything": {"summary": "Cancel, refund what was paid, restock", "value": {"restock": True}},
    "amount": {
        "summary": "Cancel and refund an amount",
        "value": {"amount": "21.20", "reason": "customer", "email": True},
    },
}
_REFUND_EXAMPLE: Final = {
    "lines_and_shipping": {
        "summary": "Refund a returned unit and all the shipping",
        "value": {
            "refund": {
                "note": "it broke during shipping",
                "notify": True,
                "refund_line_items": [{"line_item_id": 1000000002, "quantity": 1, "restock_type": "return"}],
                "shipping": {"full_refund": True},
            }
        },
    }
}


async def _waited(
    refunds: RefundService, order_id: int, done: Refunded, wait: int | None, may_read: bool
) -> StoredOrder:
    """The order as the change left it, or, with `Prefer: wait`, once its new refund settled (or the
    wait is up)."""
    if wait is None or done.refund is None or done.refund.status != "pending":
        return done.stored
    return await refunds.wait_until_settled(order_id, done.refund.id, wait, may_read=may_read)


def _refund_response(stored: StoredOrder, refund_id: int, status_code: int = 200) -> Response:
    refund = next(one for one in haravan_refunds(stored.order) if one["id"] == refund_id)
    return json_response({"refund": refund}, status_code, sequence=stored.sequence)


@router.post(
    "/orders/{order_id:id}/cancel.json",
    response_model=OrderEnvelope,
    responses={**problem_responses(404, 409, 412, 422), 200: {"headers": {**ETAG, **PREFERENCE_APPLIED}}},
)
async def cancel_order(
    *,
    order_id: OrderId,
    refunds: Refunds,
    may_read: MayRead,
    if_match: IfMatch,
    wait: PreferWait,
    body: Annotated[CancelIn | None, Body(openapi_examples=_CANCEL_EXAMPLES)] = None,
    amount: Annotated[Money | None, Query(description="As in the body (Shopify clients send it here)")] = None,
    restock: Annotated[bool | None, Query(description="As in the body")] = None,
    reason: Annotated[CancelReason | None, Query(description="As in the body")] = None,
    email: Annotated[bool | None, Query(description="As in the body")] = None,
) -> Response:
    """Cancel the order at once (`cancelled_at`, `cancel_reason`); its unshipped items are cancelled.
    With captured money, a pending refund of `amount`, or of everything that can still be refunded, is
    created with it, and the payment service pays it back; an authorized, uncaptured payment is voided
    instead. `order.cancelled` is published. 409 `order_already_cancelled`, 409 `order_fulfilled` (a
    fulfillment is not cancelled), 422 `amount` above what can be refunded or finer than the currency."""
    request = (body or CancelIn()).request(amount=amount, restock=restock, reason=reason, email=email)
    with fields_under(None):
        done = await refunds.cancel_order(order_id, request, may_read=may_read, if_match=if_match)
    return applied(order_response(await _waited(refunds, order_id, done, wait, may_read)), wait)


@router.post(
    "/orders/{order_id:id}/refunds/calculate.json",
    response_model=RefundCalculationEnvelope,
    responses=problem_responses(404, 422),
    dependencies=READS,
)
async def calculate_refund(order_id: OrderId, body: RefundBody, refunds: Refunds) -> Response:
    """What a refund of these line items and this shipping would pay back, each line's share of the
    discounts and tax included, and the transaction that would pay it; nothing is written."""
    request = body.refund.request()
    with fields_under("refund"):
        order, quoted = await refunds.quote_refund(order_id, request)
    return json_response(refund_calculation(order, request, quoted))


@router.post(
    "/orders/{order_id:id}/refunds.json",
    status_code=201,
    response_model=RefundEnvelope,
    responses={
        **problem_responses(404, 409, 412, 422),
        201: {"headers": {**ETAG, **_LOCATION, **PREFERENCE_APPLIED}},
    },
)
async def create_refund(
    *,
    order_id: OrderId,
    body: Annotated[RefundBody, Body(openapi_examples=_REFUND_EXAMPLE)],
    refunds: Refunds,
    may_read: MayRead,
    if_match: IfMatch,
    wait: PreferWait,
) -> Response:
    """Refund line items (`restock_type` `cancel` cancels unshipped units, `return` takes shipped ones
    back) and shipping; the refund is pending until the payment service pays it back, and holds its
    money meanwhile, so concurrent refunds never take the same money twice. `order.refund_requested`
    is published. 422 for units or shipping not left to refund, or more than can still be refunded;
    409 `order_anonymized` for a note on an anonymized order (it holds no personal data again)."""
    with fields_under("refund"):
        done = await refunds.create_refund(order_id, body.refund.request(), may_read=may_read, if_match=if_match)
    assert done.refund is not None  # a refund route always makes one
    response = _refund_response(await _waited(refunds, order_id, done, wait, may_read), done.refund.id, 201)
    response.headers["Location"] = f"/com/orders/{order_id}/refunds/{done.refund.id}.json"
    return applied(response, wait)


@router.get(
    "/orders/{order_id:id}/refunds.json",
    response_model=RefundListEnvelope,
    responses=problem_responses(404, 422),
    dependencies=READS,
)
async def list_refunds(order_id: OrderId, orders: Orders) -> Response:
    """The order's refunds, oldest first, each with its lines, transactions and shipping adjustment."""
    stored = await orders.get_order(order_id)
    return json_response({"refunds": haravan_refunds(stored.order)}, sequence=stored.sequence)


@router.get(
    "/orders/{order_id:id}/refunds/{refund_id:id}.json",
    response_model=RefundEnvelope,
    responses=problem_responses(404, 422),
    dependencies=READS,
)
async def get_refund(order_id: OrderId, refund_id: RefundId, orders: Orders) -> Response:
    """One of the order's refunds."""
    stored = await orders.get_order(order_id)
    if all(refund.id != refund_id for refund in stored.order.refunds):
        raise Problem(404, "refund_not_found", f"Order {order_id} has no refund {refund_id}.")
    return _refund_response(stored, refund_id)
