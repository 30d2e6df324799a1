"""Talking to the order API's Digital River dialect (`/orders...`) as a client would: the client, a create,
and the document's create example as a body."""

from typing import Any

import httpx

from shared.auth import LOCAL_API_KEY
from tests.support.processes import ServiceProcess


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


def create_body(run: str, **fields: Any) -> dict[str, Any]:
    """The document's create example, with the items this platform needs in place of a checkout."""
    return {
        "checkoutId": "5823594809",
        "sourceId": "src_a78cfeae-f7ae-4719-8e1c-d05ec04e4d37",
        "currency": "USD",
        "locale": "en_IE",
        "invoiceAttributeId": "95f72e0c-cb7d-48e1-93c8-998668ad0ff4",
        "applicationId": "68f72e0c-cb7d-48e1-93c8-998668ad0ff4",
        "browserIp": "111.111.111.111",
        "taxInclusive": False,
        "chargeType": "merchant_initiated",
        "customerType": "individual",
        "upstreamId": f"7765374748-{run}",
        "email": f"dr-{run}@example.com",
        "items": [
            {"name": "IPod Touch 8GB", "skuId": "IPOD2009BLACK", "price": "199.00", "quantity": 2},
            {"name": "Gift wrap", "price": "5.00", "quantity": 1, "taxable": False},
        ],
        "taxLines": [{"name": "State tax", "rate": "0.06", "amount": "23.88"}],
        "shippingChoice": {"id": "standard", "description": "Standard", "amount": "5.76"},
        "metadata": {"coupon": "spring"},
        **fields,
    }
