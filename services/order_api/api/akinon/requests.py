"""The guest lookup's request: an order number and the email the order was placed with."""

from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field

from shared.fields import MAX_BIGINT

# Order numbers are positive bigints; anything else can match no order.
_NO_ORDER: Final = 0


class GuestLookup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str = Field(min_length=1, max_length=64, description="The order number, e.g. `1001`")
    email: Annotated[
        str,
        Field(
            min_length=3,
            max_length=254,
            pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
            description="The email the order was placed with; must match exactly",
        ),
    ]

    def order_number(self) -> int:
        """The order number `number` names, or one no order has when it names none."""
        digits = self.number.strip().removeprefix("#")
        if not (digits.isascii() and digits.isdigit()) or int(digits) > MAX_BIGINT:
            return _NO_ORDER
        return int(digits)
