"""Digital River's `state` of an order (services/order_api/api/digital_river/state.py): every mapping. Pure, no I/O."""

from typing import Any, get_args

import pytest

from services.order_api.api.digital_river.state import DigitalRiverState, digital_river_state
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
