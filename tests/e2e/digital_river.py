"""Talking to the order API's Digital River dialect (`/orders...`) as a client would."""

from typing import Any, Final

import httpx

from shared.auth import LOCAL_API_KEY
from tests.support.processes import ServiceProcess

MAX_BIGINT: Final = 2**63 - 1  # Postgres bigint: the largest id there can be


def client(system: dict[str, ServiceProcess]) -> httpx.AsyncClient:
    """A client of the running order API that sends the local API key."""
    return httpx.AsyncClient(
        base_url=system["order_api"].url, headers={"authorization": f"Bearer {LOCAL_API_KEY}"}, timeout=20.0
    )


async def create(api: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    """Create an order; it must answer 201. Returns the order as answered."""
    response = await api.post("/orders", json=body)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order
