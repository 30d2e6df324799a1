"""order_api's HTTP routes: validate, call the use case, shape the response."""

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.order_api import service
from services.order_api.domain import LineItemDraft, OrderDraft, OrderRuleError
from shared.events import OrderSnapshot
from shared.problems import Problem
from shared.runtime import RuntimeDep

router = APIRouter(tags=["orders"])

# Postgres bigint: a larger id can name no order, and would overflow the query parameter.
OrderId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The order id")]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]


class LineItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    price: Decimal = Field(ge=0, max_digits=16, decimal_places=4, description="Unit price, a decimal string")
    quantity: int = Field(ge=1, le=1_000_000, strict=True)


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(description="ISO 4217 code, e.g. USD")
    line_items: list[LineItemIn] = Field(min_length=1, max_length=250)

    def draft(self) -> OrderDraft:
        return OrderDraft(
            self.email,
            self.currency,
            tuple(LineItemDraft(item.title, item.price, item.quantity) for item in self.line_items),
        )


@router.post("/orders", status_code=201, response_model=OrderSnapshot)
async def create_order(body: OrderIn, runtime: RuntimeDep, response: Response) -> OrderSnapshot:
    """Create an order; `order.created` is published once the order is stored."""
    try:
        order = await service.create_order(runtime.pool, body.draft())
    except OrderRuleError as error:
        raise Problem(
            422, error.code, error.message, errors=[{"field": error.field, "message": error.message}]
        ) from error
    response.headers["Location"] = f"/orders/{order.id}"
    return order


@router.get("/orders/{order_id}", response_model=OrderSnapshot, responses={404: {"description": "no such order"}})
async def get_order(order_id: OrderId, runtime: RuntimeDep) -> OrderSnapshot:
    order = await service.get_order(runtime.pool, order_id)
    if order is None:
        raise Problem(404, "order_not_found", f"There is no order {order_id}.")
    return order
