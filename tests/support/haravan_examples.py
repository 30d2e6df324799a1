"""The Haravan order document's examples (tests/fixtures/haravan_examples.json, from seeds/002) as the
end-to-end tests send them, and what the answers must share with the document's."""

import json
from pathlib import Path
from typing import Any, Final

import httpx

from tests.support.order_api_facts import AUTH, create_order
from tests.support.storefront import unique_email

EXAMPLES: Final = {
    example["title"]: example
    for example in json.loads((Path(__file__).parents[1] / "fixtures" / "haravan_examples.json").read_text())
}

# Keys the document fills that this platform answers with null, on purpose: storefront attributes it
# has no source for (carts, landing and referring sites, references), exchange rates (total_price_usd
# of a EUR order), customers' addresses (default_address) and ISO codes of country names.
NULL_ON_PURPOSE: Final = frozenset(
    {
        "cart_token",
        "landing_site",
        "landing_site_ref",
        "referring_site",
        "reference",
        "source_identifier",
        "checkout_id",
        "total_price_usd",
        "default_address",
        "country_code",
        "province_code",
    }
)
# Keys of the document's sample order that no order here has: deprecated card details.
NOT_ANSWERED: Final = frozenset({"payment_details"})
# The document's sample order (450789469), as a create request: what the read and update examples use.
ADDRESS: Final = {
    "first_name": "Bob",
    "last_name": "Bobsen",
    "address1": "123 Amoebobacterieae St",
    "address2": "",
    "company": "",
    "city": "Ottawa",
    "province": "Ontario",
    "country": "Canada",
    "zip": "K2P0V6",
    "phone": "(555)555-5555",
    "latitude": "45.41634",
    "longitude": "-75.6868",
}
SAMPLE_ORDER: Final = {
    "line_items": [
        {"variant_id": 39072856, "quantity": 1, "properties": [{"name": "Custom Engraving Front", "value": "Happy"}]},
        {"variant_id": 49148385, "quantity": 1},
    ],
    "customer": {"id": 207119551},
    "billing_address": ADDRESS,
    "shipping_address": ADDRESS,
    "shipping_lines": [{"code": "Free Shipping", "title": "Free Shipping", "price": "0.00", "source": "haravan"}],
    "tax_lines": [{"title": "State Tax", "price": "11.94", "rate": "0.06"}],
    "discount_codes": [{"code": "TENOFF", "amount": "10.00", "type": "percentage"}],
    "note_attributes": [{"name": "colour", "value": "green"}],
    "client_details": {"browser_ip": "0.0.0.0"},
    "transactions": [{"kind": "authorization", "amount": "399.94", "gateway": "authorize_net"}],
}


def assert_documented_shape(documented: Any, answered: Any, path: str = "") -> None:
    """Every key of the document's response is answered, with the same JSON type (null where the
    document shows null may be anything; lists are compared by their first elements)."""
    if isinstance(documented, dict):
        assert isinstance(answered, dict), f"{path}: {answered!r} is not an object"
        missing = set(documented) - set(answered) - NOT_ANSWERED
        assert not missing, f"{path}: missing {sorted(missing)}"
        for key, value in documented.items():
            if key in answered and not (key in NULL_ON_PURPOSE and answered[key] is None):
                assert_documented_shape(value, answered[key], f"{path}.{key}")
    elif isinstance(documented, list):
        assert isinstance(answered, list), f"{path}: {answered!r} is not a list"
        if documented and answered:
            assert_documented_shape(documented[0], answered[0], f"{path}[0]")
    elif documented is not None:
        assert type(answered) is type(documented), f"{path}: {answered!r} is not like {documented!r}"


def example(title: str) -> dict[str, Any]:
    found: dict[str, Any] = EXAMPLES[title]
    return found


async def create_example(http: httpx.AsyncClient, api: str, title: str) -> httpx.Response:
    response = await http.post(api + "/com/orders.json", json=example(title)["request"], headers=AUTH)
    assert response.status_code == example(title)["status"] == 201, response.text
    assert_documented_shape(example(title)["response"], response.json())
    order = response.json()["order"]
    assert response.headers["location"] == f"/com/orders/{order['id']}.json"
    assert response.headers["etag"] == '"1"'
    return response


async def sample_order(http: httpx.AsyncClient, api: str, **fields: Any) -> dict[str, Any]:
    """An order like the document's sample (authorized, 399.94 USD), with a unique email."""
    return await create_order(http, api, {**SAMPLE_ORDER, "email": unique_email("doc"), **fields})
