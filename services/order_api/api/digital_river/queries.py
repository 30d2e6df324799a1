"""The Digital River list's parameters, and the query they ask for."""

from dataclasses import fields
from typing import Final

from pydantic import Field

from services.order_api.api.digital_river.fields import Camel
from services.order_api.api.digital_river.state import DigitalRiverState
from services.order_api.api.fields import IpAddress, Money
from services.order_api.domain.queries import OrderQuery
from shared.fields import MAX_BIGINT, BigintId, StorableText
from shared.orders import ChargeType, CustomerType, FraudState
from shared.problems import invalid_field


def _comma_list(value: str, field: str) -> list[str]:
    parts = value.split(",")
    if len(parts) > 100 or not all(parts):
        raise invalid_field(
            field, "1 to 100 comma-separated values", detail=f"{field}: give 1 to 100 values separated by commas"
        )
    return parts


class ListParams(Camel):
    starting_after: BigintId | None = Field(default=None, description="An order id: the page after it")
    ending_before: BigintId | None = Field(default=None, description="An order id: the page before it")
    limit: int = Field(default=10, ge=1, le=100, description="Orders per page, 1 to 100")
    ids: str | None = Field(
        default=None,
        max_length=2000,
        pattern=r"^[1-9][0-9]{0,18}(,[1-9][0-9]{0,18})*$",
        description="Comma-separated order ids",
    )
    upstream_ids: StorableText | None = Field(
        default=None, max_length=30_000, description="Comma-separated upstream ids"
    )
    state: DigitalRiverState | None = None
    customer_id: BigintId | None = None
    checkout_id: StorableText | None = Field(default=None, max_length=100)
    application_id: StorableText | None = Field(default=None, max_length=255)
    email: StorableText | None = Field(default=None, max_length=254)
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")
    sku: StorableText | None = Field(default=None, max_length=255)
    fraud_state: FraudState | None = None
    browser_ip: IpAddress | None = None
    charge_type: ChargeType | None = None
    subscription_id: StorableText | None = Field(default=None, max_length=255)
    refunded_amount: Money | None = None
    locale: StorableText | None = Field(default=None, max_length=20)
    customer_type: CustomerType | None = None

    def query(self) -> OrderQuery:
        ids = None
        if self.ids is not None:
            ids = [int(part) for part in _comma_list(self.ids, "ids")]
            if max(ids) > MAX_BIGINT:
                raise invalid_field("ids", "not an order id", detail=f"ids: order ids run from 1 to {MAX_BIGINT}")
        return OrderQuery(
            **self.model_dump(include=_SAME_IN_QUERY),
            ids=ids,
            upstream_ids=_comma_list(self.upstream_ids, "upstreamIds") if self.upstream_ids is not None else None,
            states=[self.state] if self.state is not None else None,
            currency=self.currency.upper() if self.currency else None,
        )


# Parameters the query takes as they are (same name, same value): those it has a filter of the same
# name for, but the ones `query` translates.
_TRANSLATED: Final = {"ids", "upstream_ids", "currency"}
_SAME_IN_QUERY: Final = ({field.name for field in fields(OrderQuery)} & set(ListParams.model_fields)) - _TRANSLATED
