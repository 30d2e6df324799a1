"""No personal data at info level in any service's log (issue 10): the lines every service writes
through `shared.logging.configure_logging`, structlog's and the standard library's, read back as JSON
from stdout, carry no email, name, IBAN or client IP at info and above, and keep the ids an operator
needs; debug lines are left whole."""

import json
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from pydantic import ValidationError

from shared.log_privacy import MASK, is_personal_field, mask_personal_data, scrub_text
from shared.logging import configure_logging, get_logger
from shared.orders import Address

EMAIL = "jane.doe+shop@example.com"
IBAN = "DE89 3704 0044 0532 0130 00"
IBAN_COMPACT = "GB33BUKB20201555555555"
BROWSER_IP = "203.0.113.7"


@pytest.fixture
def lines(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """Configure logging as a service does (writing to the captured stdout); a function returning the
    JSON lines written so far. Restores the previous configuration afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    structlog_config = structlog.get_config()

    def read() -> list[dict[str, Any]]:
        return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]

    yield read
    logging.captureWarnings(False)
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**structlog_config)


def test_an_info_line_masks_personal_fields_and_keeps_the_ids(lines: Any) -> None:
    configure_logging("order_api")
    get_logger("test").info(
        "guest order found",
        order_id=1042,
        event_type="order.created",
        email=EMAIL,
        browser_ip=BROWSER_IP,
        customer={"id": 7, "first_name": "Jane", "last_name": "Doe", "phone": "+4915112345678"},
        shipping_address={"address1": "Hauptstrasse 5", "city": "Berlin"},
        holder_name="Jane Doe",
        recipients=["x", EMAIL],
    )
    [line] = lines()
    text = json.dumps(line)
    for personal in (EMAIL, BROWSER_IP, "Jane", "Doe", "+4915112345678", "Hauptstrasse", "Berlin"):
        assert personal not in text
    assert line["message"] == "guest order found"
    assert (line["order_id"], line["event_type"], line["service"], line["level"]) == (
        1042,
        "order.created",
        "order_api",
        "info",
    )
    assert line["customer"]["id"] == 7, "ids inside a nested value are kept"
    assert line["email"] == line["holder_name"] == line["customer"]["first_name"] == MASK


def test_emails_and_ibans_in_any_text_are_masked(lines: Any) -> None:
    configure_logging("cancellation_worker")
    get_logger("test").warning(
        f"email to {EMAIL} refused",
        error=f"550 5.1.1 <{EMAIL}>: Recipient address rejected; refund to {IBAN} and {IBAN_COMPACT}",
        retry="scheduled",
    )
    [line] = lines()
    text = json.dumps(line)
    assert EMAIL not in text
    assert "example.com" not in text
    assert IBAN not in text
    assert "3704" not in text
    assert IBAN_COMPACT not in text
    assert line["message"] == f"email to {MASK} refused"
    assert "Recipient address rejected" in line["error"], "the rest of the error stays readable"
    assert line["retry"] == "scheduled"


def test_an_exceptions_text_is_masked(lines: Any) -> None:
    configure_logging("order_api")
    try:
        raise LookupError(f"no guest order for {EMAIL}")
    except LookupError:
        get_logger("test").exception("unhandled error")
    [line] = lines()
    assert EMAIL not in line["exception"]
    assert "LookupError: no guest order for ***" in line["exception"]


def test_standard_library_lines_are_masked_too(lines: Any) -> None:
    configure_logging("webhook_dispatcher")
    logging.getLogger("uvicorn.error").error("cannot answer %s at %s", EMAIL, IBAN_COMPACT)
    [line] = lines()
    assert line["message"] == f"cannot answer {MASK} at {MASK}"
    assert line["level"] == "error"


def test_python_warnings_become_masked_log_lines(lines: Any) -> None:
    configure_logging("order_api")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn(f"Expected `int` but got `str` with value `{EMAIL!r}`", UserWarning, stacklevel=1)
    [line] = lines()
    assert line["level"] == "warning"
    assert EMAIL not in line["message"]
    assert "Expected `int` but got `str`" in line["message"]


def test_the_access_log_which_names_the_client_ip_is_not_written(lines: Any) -> None:
    configure_logging("order_api")
    # What uvicorn's access log would write for a guest lookup (it is also off in shared/runtime.py).
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', f"{BROWSER_IP}:51234", "POST", "/users/orders/anonymous/", "1.1", 200
    )
    get_logger("test").info("guest lookup answered")
    assert [line["message"] for line in lines()] == ["guest lookup answered"]


def test_debug_lines_are_left_whole(lines: Any) -> None:
    configure_logging("order_api", level="DEBUG")
    get_logger("test").debug("guest lookup", email=EMAIL, browser_ip=BROWSER_IP)
    [line] = lines()
    assert (line["email"], line["browser_ip"]) == (EMAIL, BROWSER_IP)


@pytest.mark.parametrize(
    "name",
    ["email", "customer_email", "Email", "phone", "first_name", "holder_name", "iban", "browser_ip", "client_addr",
     "recipient", "address1", "shipping_address", "note", "description"],
)  # fmt: skip
def test_personal_field_names(name: str) -> None:
    assert is_personal_field(name)


@pytest.mark.parametrize(
    "name",
    ["order_id", "event_type", "error", "sequence", "erasure_id", "customer_id", "rows", "topic", "attempt", "queue",
     "zipped", "shipping"],
)  # fmt: skip
def test_operational_field_names(name: str) -> None:
    assert not is_personal_field(name)


def test_ids_and_errors_without_personal_data_pass_unchanged() -> None:
    text = "KafkaConnectionError: Unable to bootstrap from [('127.0.0.1', 17092)]; event 9f0c2a4e1b7d4c3a"
    assert scrub_text(text) == text
    event = {"event": "order erased", "level": "info", "order_id": 1, "rows": {"outbox": 2}, "ok": True}
    assert mask_personal_data(None, "info", dict(event)) == event


def test_a_validation_error_of_an_event_model_does_not_quote_its_input() -> None:
    # Such errors reach log lines and dead-letter headers (the consumer's reason for giving up).
    with pytest.raises(ValidationError) as raised:
        Address.model_validate({"first_name": "Jane", "last_name": "Doe", "latitude": EMAIL})
    assert EMAIL not in str(raised.value)
    assert EMAIL not in repr(raised.value)
    assert "latitude" in str(raised.value)


# The output itself: structlog renders and writes its own lines, the standard library's go through its
# handler; an operator reads one JSON stream, in the order written, nothing below the level.


def test_both_kinds_of_line_come_out_in_order_in_one_format(lines: Any) -> None:
    configure_logging("anonymizer")
    get_logger("ours").info("event applied", event_type="order.created", order_id="42")
    logging.getLogger("aiokafka").warning("heartbeat failed for group %s", "anonymizer")
    get_logger("ours").error("event dead-lettered", order_id="43")

    written = lines()

    assert [(line["level"], line["message"]) for line in written] == [
        ("info", "event applied"),
        ("warning", "heartbeat failed for group anonymizer"),
        ("error", "event dead-lettered"),
    ]
    assert {line["service"] for line in written} == {"anonymizer"}
    assert all(line["timestamp"].endswith("Z") for line in written)
    assert (written[0]["event_type"], written[0]["order_id"]) == ("order.created", "42")


def test_an_exception_is_written_with_its_traceback(lines: Any) -> None:
    configure_logging("anonymizer")
    try:
        raise ValueError("no such order")
    except ValueError:
        get_logger("ours").exception("handler failed")

    [line] = lines()

    assert line["level"] == "error"
    assert "ValueError: no such order" in line["exception"]


def test_nothing_below_the_level_is_written(lines: Any) -> None:
    configure_logging("anonymizer", level="WARNING")
    get_logger("ours").info("event applied")
    get_logger("ours").debug("fetched")
    logging.getLogger("uvicorn").info("started")
    get_logger("ours").warning("lag growing")

    assert [line["message"] for line in lines()] == ["lag growing"]
