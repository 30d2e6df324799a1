"""The Akinon dialect's route: `POST /users/orders/anonymous/`, public and rate-limited."""

from typing import Final

from fastapi import APIRouter, Request

from services.order_api.api.akinon.requests import GuestLookup
from services.order_api.api.akinon.responses import AkinonOrder, akinon_order
from services.order_api.api.http import Guards, Orders, OrderSettings, problem_responses
from shared.problems import Problem

router = APIRouter(prefix="/users/orders/anonymous", tags=["Akinon guest orders"])


_NOT_FOUND: Final = (
    404,
    "order_not_found",
    "No guest order has this number and email. Check both; orders of registered customers are not found here.",
)

_GUEST_LOOKUP_RESPONSES: Final = problem_responses(404, 422, 429)


@router.post("/", response_model=list[AkinonOrder], responses=_GUEST_LOOKUP_RESPONSES)
async def find_guest_order(
    lookup: GuestLookup, request: Request, orders: Orders, guards: Guards, settings: OrderSettings
) -> list[AkinonOrder]:
    """A guest order by its number and email: a one-item array, or 404 whatever was wrong."""
    number = lookup.order_number()
    client = request.client.host if request.client else "unknown"
    await guards.limit_rate(
        [
            (f"guest-lookup:ip:{client}", settings.guest_lookups_per_ip),
            (
                f"guest-lookup:number:{number or lookup.number.strip()}:ip:{client}",
                settings.guest_lookups_per_number_and_client,
            ),
        ],
        settings.guest_lookup_window_seconds,
    )
    order = await orders.find_guest_order(number, lookup.email)
    if order is None:
        raise Problem(*_NOT_FOUND)
    return [akinon_order(order)]
