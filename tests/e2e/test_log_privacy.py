"""No personal data at info level in the running services' logs (issue 10): an order placed with a
customer, addresses and a phone, looked up by a guest from a browser IP, and cancelled (so every
consumer logs its events, and the customer is emailed) leaves none of those in any line above debug
of any service's log. The client made its correlation id of an email address: every consumer's line
about the order carries it, masked."""

import json
import uuid
from typing import Any

import httpx

from shared.log_privacy import MASK
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.storefront import CREATE_PATH, addressed_order_body

CONSUMERS = ("cancellation_worker", "anonymizer", "webhook_dispatcher")


def log_sizes(system: dict[str, ServiceProcess]) -> dict[str, int]:
    return {name: process.log_path.stat().st_size for name, process in system.items()}


def lines_since(system: dict[str, ServiceProcess], sizes: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    """Each service's log lines written after `sizes`, parsed; a line that is not JSON is kept as text."""
    lines: dict[str, list[dict[str, Any]]] = {}
    for name, process in system.items():
        with process.log_path.open("rb") as log:
            log.seek(sizes[name])
            text = log.read().decode(errors="replace")
        parsed = []
        for line in text.splitlines():
            try:
                parsed.append(json.loads(line))
            except ValueError:
                parsed.append({"level": "unknown", "text": line})
        lines[name] = parsed
    return lines


async def test_an_orders_personal_data_never_reaches_a_log_line_above_debug(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient
) -> None:
    api = system["order_api"].url
    tag = uuid.uuid4().hex[:10]
    email = f"logan.{tag}@example.com"
    correlation_id = f"corr.{tag}@example.com"
    browser_ip = f"203.0.113.{int(tag[:2], 16) % 250 + 1}"
    personal = {
        "email": email,
        "first name": f"Logan{tag}",
        "last name": f"Privat{tag}",
        "phone": f"+1555{int(tag[:6], 16) % 10**7:07d}",
        "street": f"{tag} Quiet Street",
        "city": f"Hushville{tag}",
        "correlation id": correlation_id,
        "browser IP": browser_ip,
    }
    address = {
        "first_name": personal["first name"],
        "last_name": personal["last name"],
        "address1": personal["street"],
        "city": personal["city"],
        "phone": personal["phone"],
    }
    body = addressed_order_body(email, address, phone=personal["phone"], browser_ip=browser_ip)
    sizes = log_sizes(system)

    created = await http.post(api + CREATE_PATH, json=body, headers={"x-correlation-id": correlation_id})
    assert created.status_code == 201, created.text
    order = created.json()["order"]
    async with httpx.AsyncClient(timeout=20.0) as guest:
        found = await guest.post(
            api + "/users/orders/anonymous/",
            json={"number": str(order["order_number"]), "email": email},
            headers={"x-forwarded-for": browser_ip},
        )
    assert found.status_code == 200, found.text
    cancelled = await http.post(f"{api}/com/orders/{order['id']}/cancel.json", json={})
    assert cancelled.status_code == 200, cancelled.text

    def about_the_order(lines: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
        return {name: [line for line in lines[name] if line.get("order_id") == str(order["id"])] for name in CONSUMERS}

    def every_consumer_took_the_cancel(lines: dict[str, list[dict[str, Any]]]) -> bool:
        return all(
            any(line.get("event_type") == "order.cancelled" for line in found)
            for found in about_the_order(lines).values()
        )

    async def read() -> dict[str, list[dict[str, Any]]]:
        return lines_since(system, sizes)

    lines = await eventually(read, every_consumer_took_the_cancel, timeout=60)

    for name, service_lines in lines.items():
        for line in service_lines:
            if line.get("level") == "debug":
                continue
            text = json.dumps(line)
            leaked = [what for what, value in personal.items() if value in text]
            assert not leaked, f"{name} logged the {', '.join(leaked)} at {line.get('level')}: {text}"
    created_lines = [
        line for found in about_the_order(lines).values() for line in found if line.get("event_type") == "order.created"
    ]
    assert created_lines, "the consumers logged the order's first event"
    assert {line.get("correlation_id") for line in created_lines} == {MASK}
