"""How a validation error's location is shown to API clients (shared/problems.py field_path)."""

import pytest

from shared.problems import field_path


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        (("body", "line_items", 0, "price"), "line_items[0].price"),
        (("body", "email"), "email"),
        (("body", "line_items", 2), "line_items[2]"),
        (("body", "a", 0, 1, "b"), "a[0][1].b"),
        (("body", "customer", "address", "city"), "customer.address.city"),
        (("query", "limit"), "limit"),
        (("path", "order_id"), "order_id"),
        (("header", "idempotency-key"), "idempotency-key"),
        (("body",), "<body>"),
        ((), "<body>"),
        (("line_items", 0, "title"), "line_items[0].title"),
        ((0, "price"), "[0].price"),
        (("body", "body"), "body"),
    ],
)
def test_field_path(location: tuple[int | str, ...], expected: str) -> None:
    assert field_path(location) == expected


def test_only_the_leading_source_is_dropped() -> None:
    # a field literally named "query" inside the body stays in the path
    assert field_path(("body", "filters", "query")) == "filters.query"
