"""Elastic Path's status triple of an order (services/order_api/api/elastic_path/status.py). Pure, no I/O."""

from typing import Any

import pytest

from services.order_api.api.elastic_path.status import ElasticPathStatus, elastic_path_status
from tests.support.order_rules import in_state


@pytest.mark.parametrize(
    ("fields", "triple"),
    [
        ({"financial_status": "pending"}, ("incomplete", "unpaid", "unfulfilled")),
        ({"financial_status": "voided"}, ("incomplete", "unpaid", "unfulfilled")),
        ({"financial_status": "authorized"}, ("processing", "authorized", "unfulfilled")),
        ({"financial_status": "partially_paid"}, ("processing", "authorized", "unfulfilled")),
        ({"financial_status": "paid"}, ("processing", "paid", "unfulfilled")),
        ({"financial_status": "paid", "fulfillment_status": "partial"}, ("processing", "paid", "unfulfilled")),
        ({"financial_status": "paid", "fulfillment_status": "fulfilled"}, ("complete", "paid", "fulfilled")),
        (
            {"financial_status": "partially_refunded", "fulfillment_status": "fulfilled"},
            ("complete", "paid", "fulfilled"),
        ),
        ({"financial_status": "refunded", "fulfillment_status": "fulfilled"}, ("complete", "refunded", "fulfilled")),
        ({"financial_status": "refunded"}, ("processing", "refunded", "unfulfilled")),
        ({"financial_status": "pending", "fulfillment_status": "fulfilled"}, ("incomplete", "unpaid", "fulfilled")),
        ({"status": "cancelled", "financial_status": "paid"}, ("cancelled", "paid", "unfulfilled")),
        ({"status": "cancelled", "financial_status": "voided"}, ("cancelled", "unpaid", "unfulfilled")),
    ],
)
def test_elastic_path_status(fields: dict[str, Any], triple: tuple[str, str, str]) -> None:
    assert elastic_path_status(in_state(**fields)) == ElasticPathStatus(*triple)  # type: ignore[arg-type]
