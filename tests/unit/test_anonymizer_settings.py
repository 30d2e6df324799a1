"""The anonymizer's settings refuse at start what would stall the erasure saga: a receipt service no
service answers to (every erasure would stay overdue), a deadline, interval or batch of zero."""

import pytest
from pydantic import ValidationError

from services.anonymizer.settings import RECEIPT_SERVICES, AnonymizerSettings
from shared.services import ANONYMIZER


def test_the_receipt_services_default_to_every_service_holding_personal_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANONYMIZER_RECEIPT_SERVICES", raising=False)
    assert AnonymizerSettings.load(ANONYMIZER).receipt_services == RECEIPT_SERVICES
    monkeypatch.setenv("ANONYMIZER_RECEIPT_SERVICES", '["order_api", "anonymizer"]')
    assert AnonymizerSettings.load(ANONYMIZER).receipt_services == ["order_api", "anonymizer"]


@pytest.mark.parametrize("value", ['["order_api", "webhooks"]', '["order_api", "order_api"]', "[]", '"order_api"'])
def test_an_unknown_repeated_or_missing_receipt_service_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ANONYMIZER_RECEIPT_SERVICES", value)
    with pytest.raises(ValidationError, match="receipt_services"):
        AnonymizerSettings.load(ANONYMIZER)


@pytest.mark.parametrize(
    "name",
    [
        "ANONYMIZER_RECEIPT_DEADLINE_SECONDS",
        "ANONYMIZER_OVERDUE_INTERVAL_SECONDS",
        "ANONYMIZER_OVERDUE_BATCH_SIZE",
        "ANONYMIZER_RETENTION_BATCH_SIZE",
        "ANONYMIZER_RETENTION_INTERVAL_SECONDS",
    ],
)
def test_a_zero_deadline_interval_or_batch_is_refused(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "0")
    with pytest.raises(ValidationError, match=name.removeprefix("ANONYMIZER_").lower()):
        AnonymizerSettings.load(ANONYMIZER)
