"""The Digital River dialect's field types and naming: camelCase JSON, ids, metadata, and domain fields
named as this dialect's requests name them."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Final

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from services.order_api.domain.errors import WHOLE_ORDER, OrderRuleError
from services.order_api.domain.limits import MAX_METADATA
from shared.fields import MAX_BIGINT, StorableText, storable

Metadata = Annotated[
    dict[
        Annotated[str, AfterValidator(storable), Field(min_length=1, max_length=40)],
        Annotated[StorableText, Field(max_length=500)],
    ],
    Field(
        max_length=MAX_METADATA,
        description=f"Up to {MAX_METADATA} string pairs (keys up to 40 characters, values up to 500)",
        json_schema_extra={"propertyNames": {"minLength": 1, "maxLength": 40, "pattern": "^[^\\u0000]*$"}},
    ),
]
OrderId = Annotated[
    int,
    Path(
        alias="id", ge=1, le=MAX_BIGINT, description="The order id: the same number in every dialect (no `ord_` prefix)"
    ),
]


class Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class CamelIn(Camel):
    model_config = ConfigDict(extra="forbid")


# The domain names fields as the snapshot does; the errors name them as this dialect's request does.
_REQUEST_FIELDS: Final = (
    (re.compile(r"^customer\.id$"), "customerId"),
    (re.compile(r"^line_items\[(\d+)\]\.title$"), r"items[\1].name"),
    (re.compile(r"^line_items\[(\d+)\]\.variant_id$"), r"items[\1].variantId"),
    (re.compile(r"^line_items"), "items"),
    (re.compile(r"^tax_lines\[(\d+)\]\.price$"), r"taxLines[\1].amount"),
    (re.compile(r"^shipping_lines\[0\]\.price$"), "shippingChoice.amount"),
)


def request_field(field: str) -> str:
    """A domain rule's field as this dialect's request names it (`line_items[0].title` -> `items[0].name`)."""
    if field == WHOLE_ORDER:
        return "<body>"
    for pattern, replacement in _REQUEST_FIELDS:
        if pattern.search(field):
            return pattern.sub(replacement, field)
    return to_camel(field)


@contextmanager
def request_fields() -> Iterator[None]:
    """A broken order rule names the field as this dialect's request does."""
    try:
        yield
    except OrderRuleError as error:
        raise type(error)(request_field(error.field), error.code, error.message) from error
