"""Every example of the Haravan order document (seeds/002), sent to the running order_api: each answers
in the documented shape (keys and JSON types of the document's response) with the values that follow
from the request. Orders the document names by id (450789469, ...) are replaced by orders the test
creates; the list examples are narrowed to those with `ids`, since the database is shared."""

import json
import uuid
from pathlib import Path
from typing import Any, Final

import httpx
import pytest

from shared.orders import VariantFact
from tests.e2e.catalog import AUTH, create_order, get_order, order_events
from tests.support.processes import ServiceProcess

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

pytestmark = pytest.mark.usefixtures("demo_catalog")


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


def unique_email(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}@example.com"


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


# ---- create -------------------------------------------------------------------------------------


async def test_create_a_simple_order_with_only_a_product_variant_id(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, demo_catalog: dict[int, VariantFact]
) -> None:
    order = await create_example(http, system["order_api"].url, "Create a simple order with only a product variant id.")
    order = order.json()["order"]

    [item] = order["line_items"]
    variant = demo_catalog[447654529]
    assert (item["title"], item["variant_title"], item["name"]) == ("IPod Touch 8GB", "Black", "IPod Touch 8GB - Black")
    assert (item["product_id"], item["sku"], item["grams"]) == (variant.product_id, variant.sku, variant.grams)
    assert (item["variant_inventory_management"], item["product_exists"]) == ("haravan", True)
    assert (order["currency"], order["total_price"], order["total_price_usd"]) == ("USD", "199.00", "199.00")
    assert (order["financial_status"], order["fulfillment_status"], order["status"]) == ("paid", None, "open")
    assert (order["email"], order["customer"], order["confirmed"]) == ("", None, True)
    assert order["name"] == f"#{order['order_number']}"
    assert order["number"] == order["order_number"] - 1000


@pytest.mark.parametrize(
    "title",
    [
        "Create a simple order, sending order receipt and fulfillment receipt to the customer",
        "Create a simple order without sending order/fulfillment receipt",
    ],
)
async def test_create_a_simple_fulfilled_order_with_or_without_receipts(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, title: str
) -> None:
    order = (await create_example(http, system["order_api"].url, title)).json()["order"]

    assert (order["email"], order["financial_status"], order["fulfillment_status"]) == (
        "foo@example.com",
        "paid",
        "fulfilled",
    )
    [item] = order["line_items"]
    assert (item["fulfillment_status"], item["fulfillable_quantity"]) == ("fulfilled", 0)
    [fulfillment] = order["fulfillments"]
    assert (fulfillment["order_id"], fulfillment["status"], fulfillment["service"]) == (
        order["id"],
        "success",
        "manual",
    )
    assert [(line["id"], line["quantity"]) for line in fulfillment["line_items"]] == [(item["id"], 1)]
    # The customer is found or recorded by the order's email.
    assert (order["customer"]["email"], order["customer"]["last_order_id"]) == ("foo@example.com", order["id"])


async def test_create_a_more_comprehensive_order(system: dict[str, ServiceProcess], http: httpx.AsyncClient) -> None:
    order = (await create_example(http, system["order_api"].url, "Create a more comprehensive order")).json()["order"]

    assert order["currency"] == "EUR"
    assert (order["total_line_items_price"], order["subtotal_price"]) == ("224.97", "224.97")
    assert (order["total_tax"], order["total_price"], order["total_price_usd"]) == ("13.50", "238.47", None)
    assert order["tax_lines"] == [{"title": "State tax", "price": "13.50", "rate": 0.06}]
    assert order["financial_status"] == "paid"  # the sale transaction covers the total
    [item] = order["line_items"]
    assert (item["title"], item["price"], item["quantity"], item["grams"]) == ("Big Brown Bear Boots", "74.99", 3, 1300)
    assert (item["variant_id"], item["product_exists"], item["variant_inventory_management"]) == (None, False, None)
    assert order["total_weight"] == 3900
    [transaction] = order["transactions"]
    assert (transaction["kind"], transaction["amount"], transaction["currency"]) == ("sale", "238.47", "EUR")


async def test_create_a_pending_order_with_an_existing_customer(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient
) -> None:
    title = "Create a pending order with an existing customer"
    order = (await create_example(http, system["order_api"].url, title)).json()["order"]

    assert order["financial_status"] == "pending"
    customer = order["customer"]
    assert (customer["id"], customer["first_name"], customer["last_name"]) == (207119551, "Bob", "Norman")
    assert (customer["email"], customer["last_order_id"], customer["last_order_name"]) == (
        "bob.norman@hostmail.com",
        order["id"],
        order["name"],
    )
    assert customer["orders_count"] >= 1


async def test_create_a_partially_paid_order_with_a_new_customer_and_addresses(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient
) -> None:
    title = "Create a partially paid order with a new customer and addresses"
    order = (await create_example(http, system["order_api"].url, title)).json()["order"]

    assert (order["email"], order["financial_status"]) == ("jane@example.com", "partially_paid")
    assert (order["billing_address"]["name"], order["billing_address"]["zip"]) == ("John Smith", "H0H0H0")
    assert (order["shipping_address"]["name"], order["shipping_address"]["phone"]) == ("Jane Smith", "777-777-7777")
    customer = order["customer"]
    assert (customer["first_name"], customer["last_name"], customer["email"]) == (
        "Paul",
        "Norman",
        "paul.norman@example.com",
    )
    assert [(tx["kind"], tx["amount"]) for tx in order["transactions"]] == [("authorization", "50.00")]


# ---- read ---------------------------------------------------------------------------------------


async def test_list_all_orders_and_list_of_specific_orders(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient
) -> None:
    api = system["order_api"].url
    first, second = await sample_order(http, api), await sample_order(http, api)

    listed = await http.get(f"{api}/com/orders.json", params={"ids": f"{first['id']},{second['id']}"}, headers=AUTH)
    one = await http.get(f"{api}/com/orders.json", params={"ids": str(first["id"])}, headers=AUTH)

    assert listed.status_code == 200
    assert_documented_shape(example("List all orders")["response"], listed.json())
    assert [order["id"] for order in listed.json()["orders"]] == [second["id"], first["id"]]  # newest first
    assert_documented_shape(example("List of specific orders")["response"], one.json())
    assert one.json() == {"orders": [await get_order(http, api, first["id"])]}


async def test_list_and_count_orders_which_are_authorized_and_ready_to_be_captured(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient
) -> None:
    api = system["order_api"].url
    authorized = await sample_order(http, api)
    paid = await sample_order(http, api, transactions=[{"kind": "sale", "amount": "399.94"}])
    ids = {"ids": f"{authorized['id']},{paid['id']}", "financial_status": "authorized"}

    listed = await http.get(f"{api}/com/orders.json", params=ids, headers=AUTH)
    counted = await http.get(f"{api}/com/orders/count.json", params=ids, headers=AUTH)

    assert authorized["financial_status"] == "authorized"
    title = "List orders which are authorized and ready to be captured."
    assert_documented_shape(example(title)["response"], listed.json())
    assert [order["id"] for order in listed.json()["orders"]] == [authorized["id"]]
    assert (
        counted.json()
        == {"count": 1}
        == example("Count orders which are authorized and ready to be captured.")["response"]
    )


async def test_list_orders_last_updated_after_2005_07_31_15_57_11_in_the_edt_timezone(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient
) -> None:
    api = system["order_api"].url
    order = await sample_order(http, api)
    after = {"ids": str(order["id"]), "updated_at_min": "2005-07-31 15:57:11 EDT -04:00"}
    updated_at = order["updated_at"].replace("Z", "+00:00")

    before = await http.get(f"{api}/com/orders.json", params=after, headers=AUTH)
    too_late = await http.get(
        f"{api}/com/orders.json", params={**after, "updated_at_min": "2999-01-01 00:00:00 EDT -04:00"}, headers=AUTH
    )
    exactly = await http.get(f"{api}/com/orders.json", params={**after, "updated_at_min": updated_at}, headers=AUTH)

    title = "List orders last updated after 2005-07-31 15:57:11 in the EDT timezone"
    assert_documented_shape(example(title)["response"], before.json())
    assert [found["id"] for found in before.json()["orders"]] == [order["id"]]
    assert too_late.json() == {"orders": []}
    assert [found["id"] for found in exactly.json()["orders"]] == [order["id"]]  # the bound is inclusive


async def test_list_all_orders_showing_only_some_attributes(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient
) -> None:
    api = system["order_api"].url
    order = await sample_order(http, api)

    listed = await http.get(
        f"{api}/com/orders.json",
        params={"ids": str(order["id"]), "fields": "created_at,id,name,total-price"},
        headers=AUTH,
    )

    assert listed.json() == {"orders": [{key: order[key] for key in ("created_at", "id", "name", "total_price")}]}
    assert_documented_shape(example("List all orders, showing only some attributes")["response"], listed.json())


async def test_list_all_orders_after_the_specified_id(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient
) -> None:
    api = system["order_api"].url
    orders = [await sample_order(http, api) for _ in range(3)]
    ids = ",".join(str(order["id"]) for order in orders)

    after_first = await http.get(
        f"{api}/com/orders.json", params={"ids": ids, "since_id": orders[0]["id"]}, headers=AUTH
    )

    assert_documented_shape(example("List all orders after the specified ID")["response"], after_first.json())
    assert [order["id"] for order in after_first.json()["orders"]] == [orders[1]["id"], orders[2]["id"]]  # oldest first


async def test_get_a_representation_of_a_single_order_and_only_particular_fields(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient
) -> None:
    api = system["order_api"].url
    order = await sample_order(http, api)

    whole = await http.get(f"{api}/com/orders/{order['id']}.json", headers=AUTH)
    some = await http.get(
        f"{api}/com/orders/{order['id']}.json", params={"fields": "id,line_items,name,total_price"}, headers=AUTH
    )

    assert whole.json() == {"order": order}
    assert whole.headers["etag"] == '"1"'
    assert_documented_shape(example("Get a representation of a single order")["response"], whole.json())
    assert some.json() == {"order": {key: order[key] for key in ("id", "line_items", "name", "total_price")}}
    assert_documented_shape(example("Get only particular fields")["response"], some.json())


async def test_a_missing_order_is_404_and_a_malformed_id_422(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient
) -> None:
    api = system["order_api"].url

    missing = await http.get(f"{api}/com/orders/{2**62}.json", headers=AUTH)
    malformed = [await http.get(f"{api}/com/orders/{bad}.json", headers=AUTH) for bad in ("abc", "0", "-1", str(2**64))]

    assert (missing.status_code, missing.json()["code"]) == (404, "order_not_found")
    assert [(response.status_code, response.json()["errors"][0]["field"]) for response in malformed] == [
        (422, "order_id")
    ] * 4


# ---- update -------------------------------------------------------------------------------------

UPDATES: Final = [
    ("Add Note to order", "note"),
    ("Set Note Attributes on an order", "note_attributes"),
    ("Change an order\N{RIGHT SINGLE QUOTATION MARK}s email", "email"),
    ("Change an order so that its buyer accepts marketing", "buyer_accepts_marketing"),
    ("Add a metafield to an existing order", "metafields"),
]


@pytest.mark.parametrize(("title", "field"), UPDATES, ids=[field for _, field in UPDATES])
async def test_update_examples_change_what_they_name(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, title: str, field: str
) -> None:
    api = system["order_api"].url
    order = await sample_order(http, api, metafields=[{"namespace": "global", "key": "old", "value": "kept"}])
    body = {"order": {**example(title)["request"]["order"], "id": order["id"]}}

    response = await http.put(f"{api}/com/orders/{order['id']}.json", json=body, headers={**AUTH, "if-match": '"1"'})

    assert response.status_code == example(title)["status"] == 200, response.text
    assert response.headers["etag"] == '"2"'
    assert_documented_shape(example(title)["response"], response.json())
    updated = response.json()["order"]
    wanted = body["order"][field]
    if field == "metafields":  # added beside the order's own, as the example's title says
        wanted = [{"namespace": "global", "key": "old", "value": "kept", "value_type": "string"}, *wanted]
    assert updated[field] == wanted
    unchanged = {key: value for key, value in order.items() if key not in (field, "updated_at")}
    assert {key: updated[key] for key in unchanged} == unchanged
    assert await get_order(http, api, order["id"]) == updated


async def test_remove_customer_from_an_order(system: dict[str, ServiceProcess], http: httpx.AsyncClient) -> None:
    api = system["order_api"].url
    order = await sample_order(http, api)

    response = await http.put(
        f"{api}/com/orders/{order['id']}.json", json={"order": {"id": order["id"], "customer": None}}, headers=AUTH
    )

    assert order["customer"]["id"] == 207119551
    assert response.status_code == 200, response.text
    # Still the account's order, not a guest's (the guest lookup must not find it now).
    assert (response.json()["order"]["customer"], response.json()["order"]["guest"]) == (None, False)
    assert (await get_order(http, api, order["id"]))["customer"] is None


# ---- close, open, delete, and the events they emit -----------------------------------------------


async def test_close_open_delete_emit_each_event_once_in_sequence(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, stack: tuple[str, str]
) -> None:
    api = system["order_api"].url
    order = await sample_order(http, api, transactions=[], financial_status="pending")
    url = f"{api}/com/orders/{order['id']}"

    updated = await http.put(f"{url}.json", json={"order": {"tags": "vip, gift"}}, headers={**AUTH, "if-match": '"1"'})
    stale = await http.put(f"{url}.json", json={"order": {"note": "lost"}}, headers={**AUTH, "if-match": '"1"'})
    closed = await http.post(f"{url}/close.json", headers=AUTH)
    closed_again = await http.post(f"{url}/close.json", headers=AUTH)
    reopened = await http.post(f"{url}/open.json", headers={**AUTH, "if-match": '"3"'})
    reopened_again = await http.post(f"{url}/open.json", headers=AUTH)
    deleted = await http.delete(f"{url}.json", headers=AUTH)
    gone = await http.get(f"{url}.json", headers=AUTH)

    assert (updated.status_code, updated.json()["order"]["tags"]) == (200, "vip, gift")
    assert (stale.status_code, stale.json()["code"], stale.headers["etag"]) == (412, "version_mismatch", '"2"')
    assert (closed.status_code, closed.json()["order"]["status"], closed.headers["etag"]) == (200, "closed", '"3"')
    assert closed.json()["order"]["closed_at"] is not None
    assert (closed_again.status_code, closed_again.json()["code"]) == (409, "order_not_open")
    assert (reopened.status_code, reopened.json()["order"]["status"]) == (200, "open")
    assert reopened.json()["order"]["closed_at"] is None
    assert (reopened_again.status_code, reopened_again.json()["code"]) == (409, "order_not_closed")
    assert (deleted.status_code, deleted.json()) == (200, {})
    assert (gone.status_code, gone.json()["code"]) == (404, "order_not_found")
    events = await order_events(stack[1], order, expect=5)
    assert [(event_type, sequence) for event_type, sequence, _ in events] == [
        ("order.created", 1),
        ("order.updated", 2),
        ("order.closed", 3),
        ("order.reopened", 4),
        ("order.deleted", 5),
    ]
    assert [data.order.status for _, _, data in events] == ["open", "open", "closed", "open", "open"]


async def test_an_open_order_with_money_on_it_cannot_be_deleted(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient
) -> None:
    api = system["order_api"].url
    order = await sample_order(http, api)

    refused = await http.delete(f"{api}/com/orders/{order['id']}.json", headers=AUTH)

    assert (refused.status_code, refused.json()["code"]) == (409, "order_not_deletable")
    assert await get_order(http, api, order["id"]) == order
