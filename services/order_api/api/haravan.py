"""The Haravan (Shopify-style) dialect: `/com/orders...json`."""

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from services.order_api import service
from services.order_api.api.http import set_etag
from shared.orders import (
    Address,
    ClientDetails,
    CustomerDraft,
    DiscountCode,
    FinancialStatus,
    LineItemDraft,
    Metafield,
    NameValue,
    OrderDraft,
    OrderSnapshot,
    ShippingLine,
    TaxLine,
    TransactionDraft,
)
from shared.runtime import RuntimeDep

router = APIRouter(prefix="/com", tags=["Haravan orders"])

OrderId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The order id")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LineItemIn(_In):
    variant_id: int | None = None
    title: str | None = Field(default=None, min_length=1, max_length=255)
    price: Decimal | None = Field(default=None, ge=0, max_digits=16, decimal_places=4)
    quantity: int = Field(ge=1, le=100_000)
    sku: str | None = Field(default=None, max_length=255)
    grams: int | None = Field(default=None, ge=0)
    vendor: str | None = Field(default=None, max_length=255)
    properties: list[NameValue] = Field(default=[], max_length=50)
    taxable: bool | None = None
    requires_shipping: bool | None = None


class OrderCreateIn(_In):
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=50)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    line_items: list[LineItemIn] = Field(min_length=1, max_length=250)
    customer: CustomerDraft | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    shipping_lines: list[ShippingLine] = Field(default=[], max_length=20)
    tax_lines: list[TaxLine] = Field(default=[], max_length=50)
    total_tax: Decimal | None = Field(default=None, ge=0)
    discount_codes: list[DiscountCode] = Field(default=[], max_length=20)
    taxes_included: bool = False
    note: str | None = Field(default=None, max_length=5000)
    note_attributes: list[NameValue] = Field(default=[], max_length=100)
    tags: str = Field(default="", max_length=2000)
    buyer_accepts_marketing: bool = False
    transactions: list[TransactionDraft] = Field(default=[], max_length=50)
    financial_status: FinancialStatus | None = None
    fulfillment_status: Literal["fulfilled"] | None = None
    send_receipt: bool = False  # accepted as the document shows; this platform sends no email
    send_fulfillment_receipt: bool = False
    source_name: str = Field(default="api", max_length=100)
    browser_ip: str | None = Field(default=None, max_length=45)
    client_details: ClientDetails | None = None
    metafields: list[Metafield] = Field(default=[], max_length=100)

    def draft(self) -> OrderDraft:
        fields: dict[str, Any] = self.model_dump(
            exclude={"send_receipt", "send_fulfillment_receipt", "line_items"}, exclude_unset=True
        )
        # Haravan's default: an order created without transactions or a status is taken as paid.
        if self.financial_status is None and not self.transactions:
            fields["financial_status"] = "paid"
        return OrderDraft.model_validate(
            {**fields, "line_items": [LineItemDraft.model_validate(item.model_dump()) for item in self.line_items]}
        )


class OrderCreateBody(_In):
    order: OrderCreateIn


class OrderEnvelope(BaseModel):
    order: OrderSnapshot


@router.post("/orders.json", status_code=201, response_model=OrderEnvelope)
async def create_order(body: OrderCreateBody, runtime: RuntimeDep, response: Response) -> OrderEnvelope:
    """Create an order; `order.created` is published once it is stored."""
    order, _ = await service.create_order(runtime.pool, body.order.draft())
    response.headers["Location"] = f"/com/orders/{order.id}.json"
    return OrderEnvelope(order=order)


@router.get("/orders/{order_id}.json", response_model=OrderEnvelope)
async def get_order(order_id: OrderId, runtime: RuntimeDep, response: Response) -> OrderEnvelope:
    stored = await service.get_order(runtime.pool, order_id)
    set_etag(response, stored.sequence)
    return OrderEnvelope(order=stored.order)
