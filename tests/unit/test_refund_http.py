"""What the refund routes read and answer beyond their bodies: `Prefer: wait=N` (RFC 7240) and Shopify's
`errors` shape of the Haravan dialect's problems. Pure, no I/O."""

from typing import Any

import pytest

from services.order_api.api.haravan.errors import shopify_errors
from services.order_api.api.prefer import wait_preference


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("wait=10", 10),
        ("respond-async, wait=5", 5),
        ('WAIT="7"', 7),
        ("wait=120", 30),  # at most 30
        ("wait=0", 0),
        ("wait=soon", None),  # not understood: no preference, as RFC 7240 says
        ("wait=-1", None),
        ("return=minimal", None),
        ("wait=5;foo=bar", 5),
    ],
)
async def test_prefer_wait_names_the_seconds_to_wait_at_most_30(header: str | None, seconds: int | None) -> None:
    assert await wait_preference(header) == seconds


PROBLEM = {"type": "about:blank", "title": "Validation error", "status": 422, "code": "c", "detail": "d"}


@pytest.mark.parametrize(
    ("problem", "errors"),
    [
        (
            {
                **PROBLEM,
                "errors": [{"field": "order.customer", "message": "m1"}, {"field": "order.customer", "message": "m2"}],
            },
            {"customer": ["m1", "m2"]},
        ),
        ({**PROBLEM, "errors": [{"field": "refund.shipping", "message": "m"}]}, {"shipping": ["m"]}),
        ({**PROBLEM, "errors": [{"field": "If-Match", "message": "m"}]}, {"If-Match": ["m"]}),
        (PROBLEM, {"base": ["d"]}),  # a 422 always names attributes, as Shopify clients parse it
        ({**PROBLEM, "status": 404, "title": "Not found"}, "d"),
    ],
)
def test_problems_carry_shopifys_errors_beside_their_own_members(problem: dict[str, Any], errors: object) -> None:
    shaped = shopify_errors(problem)

    assert shaped["errors"] == errors
    assert {key: shaped[key] for key in ("type", "title", "status", "code", "detail")} == {
        key: problem[key] for key in ("type", "title", "status", "code", "detail")
    }
