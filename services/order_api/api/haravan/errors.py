"""Shopify's error shape for the Haravan dialect, beside the problem document's members.

Shopify-style clients (the `haravan` package, pyactiveresource underneath) read `errors` from an error
answer: an object of attribute -> messages (`{"errors": {"customer": ["..."]}}`), which a 422 always
carries, or a message (`{"errors": "Not Found"}`). Every answer under `/com/` that is a problem
document gets that `errors` member in place of the list of `{field, message}` the other dialects show;
`type`, `title`, `status`, `code` and `detail` stay. An attribute is the field's path without the
body's envelope (`order.line_items[0].price` -> `line_items[0].price`); a 422 without fields names
`base`, as Rails does. `shopify_errors` is this dialect's reshape for `DialectErrors`
(services/order_api/api/dialect_errors.py), so the answers of the API-key check, the body limit and the
database's absence are shaped too.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from pydantic import BaseModel

from services.order_api.api.http import problem_responses
from services.order_api.domain.errors import WHOLE_ORDER, OrderRuleError
from shared.rules import RuleError

PREFIX: Final = "/com/"
_ENVELOPES: Final = ("order.", "refund.")


class HaravanProblem(BaseModel):
    """An RFC 9457 problem with Shopify's `errors`: attribute -> messages, or one message."""

    type: str = "about:blank"
    title: str
    status: int
    code: str
    detail: str
    errors: dict[str, list[str]] | str


_SCHEMA: Final = HaravanProblem.model_json_schema()


def haravan_problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` documenting a Haravan route's problem answers, in this dialect's shape."""
    return problem_responses(*statuses, schema=_SCHEMA)


@contextmanager
def fields_under(envelope: str | None) -> Iterator[None]:
    """A broken rule names its field as the domain knows it; in this dialect's bodies it sits under the
    `envelope` key (`order`, `refund`; None: the body has none). A refund-math refusal answers as an
    order rule does (422)."""
    try:
        yield
    except RuleError as error:
        field = error.field
        if envelope is not None:
            field = envelope if field == WHOLE_ORDER else f"{envelope}.{field}"
        refusal = type(error) if isinstance(error, OrderRuleError) else OrderRuleError
        raise refusal(field, error.code, error.message) from error


def _attribute(field: str) -> str:
    for envelope in _ENVELOPES:
        if field.startswith(envelope):
            return field.removeprefix(envelope)
    return field


def shopify_errors(problem: dict[str, Any]) -> dict[str, Any]:
    """The problem document with Shopify's `errors` in place of the field list."""
    listed = problem.get("errors")
    errors: dict[str, list[str]] | str
    if isinstance(listed, list) and listed:
        errors = {}
        for error in listed:
            errors.setdefault(_attribute(str(error.get("field", "base"))), []).append(str(error.get("message", "")))
    elif problem.get("status") == 422:
        errors = {"base": [str(problem.get("detail", ""))]}
    else:
        errors = str(problem.get("detail", ""))
    return {**problem, "errors": errors}
