"""Every example of the Haravan order document (seeds/002), sent to the running order_api: each answers
in the documented shape (keys and JSON types of the document's response) with the values that follow
from the request. Orders the document names by id (450789469, ...) are replaced by orders the test
creates; the list examples are narrowed to those with `ids`, since the database is shared."""

import httpx
import pytest

from shared.order_facts import VariantFact
from tests.support.haravan_examples import (
    assert_documented_shape,
    create_example,
    example,
    sample_order,
)
from tests.support.order_api_facts import AUTH, get_order
from tests.support.processes import ServiceProcess
from tests.support.storefront import problem_fields

pytestmark = pytest.mark.usefixtures("demo_catalog")


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
    assert [(response.status_code, problem_fields(response.json())) for response in malformed] == [
        (422, ["order_id"])
    ] * 4
