"""How dialects name the order's state: Digital River's `state`, Elastic Path's triple. Pure, no I/O."""

from typing import Any, get_args

import pytest

from services.order_api.domain.status_views import (
    DigitalRiverState,
    ElasticPathStatus,
    digital_river_state,
    elastic_path_status,
)
from tests.support.order_rules import (
    in_state,
)

DIGITAL_RIVER_CASES: list[tuple[dict[str, Any], DigitalRiverState]] = [
    ({"status": "cancelled", "financial_status": "paid", "fraud_state": "blocked"}, "cancelled"),
    ({"fraud_state": "blocked", "financial_status": "paid"}, "blocked"),
    ({"fraud_state": "review_opened", "financial_status": "authorized"}, "in_review"),
    ({"financial_status": "refunded", "fulfillment_status": "fulfilled"}, "returned"),
    ({"financial_status": "partially_refunded"}, "returned"),
    ({"financial_status": "paid", "fulfillment_status": "fulfilled"}, "complete"),
    ({"financial_status": "authorized", "fulfillment_status": "fulfilled"}, "fulfilled"),
    ({"financial_status": "pending"}, "pending_payment"),
    ({"financial_status": "partially_paid", "fulfillment_status": "partial"}, "pending_payment"),
    ({"financial_status": "authorized"}, "accepted"),
    ({"financial_status": "paid"}, "accepted"),
    ({"financial_status": "paid", "fulfillment_status": "partial"}, "accepted"),
    ({"status": "closed", "financial_status": "paid"}, "accepted"),
]


@pytest.mark.parametrize(("fields", "state"), DIGITAL_RIVER_CASES)
def test_digital_river_state(fields: dict[str, Any], state: DigitalRiverState) -> None:
    assert digital_river_state(in_state(**fields)) == state


def test_the_digital_river_cases_cover_every_state_the_mapping_produces() -> None:
    produced = {state for _, state in DIGITAL_RIVER_CASES}
    # `dispute` has no source in the order yet: no chargeback facts are ingested.
    assert produced == set(get_args(DigitalRiverState)) - {"dispute"}


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
