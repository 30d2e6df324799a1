"""Haravan list and count over a data set of several pages: every filter, `page` and `since_id`
pagination, limits 1 and 250, empty pages, and time ranges written in other time zones. The database is
shared, so every query is narrowed to this test's orders with `ids`."""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

import asyncpg
import httpx
import pytest

from shared.order_facts import FulfillmentCreatedFact, FulfillmentLineFact
from tests.support.order_api_facts import AUTH, apply_facts, create_order, fact, get_order
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess

ORDERS: Final = 24
BASE: Final = datetime(2015, 3, 28, tzinfo=UTC)  # order i was processed at BASE + i hours


def _order(index: int) -> dict[str, Any]:
    """Order `index` of the data set: its payment and fulfilment vary with index % 4."""
    order: dict[str, Any] = {
        "email": f"listing-{index}@example.com",
        "currency": "USD",
        "line_items": [{"title": "Teapot", "price": "10.00", "quantity": 2}],
        "processed_at": (BASE + timedelta(hours=index)).isoformat(),
    }
    kind = index % 4
    if kind == 0:
        order["financial_status"] = "pending"
    elif kind == 1:
        order["transactions"] = [{"kind": "authorization", "amount": "20.00"}]
    elif kind == 3:
        order["fulfillment_status"] = "fulfilled"
    return order


PARTIAL: Final = 5  # the order the fulfilment service ships one of two items of


@pytest.fixture(scope="module")
async def data_set(system: dict[str, ServiceProcess], stack: tuple[str, str]) -> list[dict[str, Any]]:
    """ORDERS orders, a third of them (index % 3 == 0) closed, one partially fulfilled; as the API
    answers them, by index."""
    api = system["order_api"].url
    async with httpx.AsyncClient(timeout=30.0) as http:
        created = list(await asyncio.gather(*(create_order(http, api, _order(index)) for index in range(ORDERS))))
        for index in range(0, ORDERS, 3):
            response = await http.post(f"{api}/com/orders/{created[index]['id']}/close.json", headers=AUTH)
            assert response.status_code == 200, response.text
            created[index] = response.json()["order"]
        partial = created[PARTIAL]
        shipped = FulfillmentCreatedFact(
            order_id=partial["id"],
            fulfillment_id=partial["id"],
            line_items=[FulfillmentLineFact(line_item_id=partial["line_items"][0]["id"], quantity=1)],
        )
        admin_db = await asyncpg.connect(stack[0])
        try:
            await apply_facts(stack[1], admin_db, [fact("fulfillment.created", shipped, partial["id"])])
        finally:
            await admin_db.close()
        created[PARTIAL] = await get_order(http, api, partial["id"])
    assert created[PARTIAL]["fulfillment_status"] == "partial"
    return created


class Lister:
    def __init__(self, http: httpx.AsyncClient, api: str, orders: list[dict[str, Any]]) -> None:
        self.http, self.api = http, api
        self.ids = ",".join(str(order["id"]) for order in orders)

    async def ids_of(self, **params: Any) -> list[int]:
        """The ids `GET /com/orders.json` answers for the data set with `params`; checks count agrees."""
        query = {"ids": self.ids, **params}
        listed = await self.http.get(f"{self.api}/com/orders.json", params={**query, "fields": "id"}, headers=AUTH)
        assert listed.status_code == 200, listed.text
        counted = await self.http.get(
            f"{self.api}/com/orders/count.json",
            params={key: value for key, value in query.items() if key not in ("limit", "page", "since_id")},
            headers=AUTH,
        )
        assert counted.status_code == 200, counted.text
        found = [order["id"] for order in listed.json()["orders"]]
        if "limit" not in params and "page" not in params and "since_id" not in params:
            assert counted.json() == {"count": len(found)}
        return found


@pytest.fixture
def lister(system: dict[str, ServiceProcess], http: httpx.AsyncClient, data_set: list[dict[str, Any]]) -> Lister:
    return Lister(http, system["order_api"].url, data_set)


def newest_first(orders: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool] = lambda _: True) -> list[int]:
    return sorted((order["id"] for order in orders if keep(order)), reverse=True)


async def test_status_open_by_default_closed_cancelled_and_any(lister: Lister, data_set: list[dict[str, Any]]) -> None:
    assert await lister.ids_of() == newest_first(data_set, lambda order: order["status"] == "open")
    assert await lister.ids_of(status="closed") == newest_first(data_set, lambda order: order["status"] == "closed")
    assert await lister.ids_of(status="cancelled") == []
    assert await lister.ids_of(status="any") == newest_first(data_set)
    assert len(await lister.ids_of(status="closed")) == ORDERS // 3


@pytest.mark.parametrize(
    ("financial_status", "expected"),
    [
        ("pending", {"pending"}),
        ("authorized", {"authorized"}),
        ("paid", {"paid"}),
        ("partiallyrefunded", {"partially_refunded"}),
        ("any", {"pending", "authorized", "paid"}),
    ],
)
async def test_financial_status(
    lister: Lister, data_set: list[dict[str, Any]], financial_status: str, expected: set[str]
) -> None:
    found = await lister.ids_of(status="any", financial_status=financial_status)

    assert found == newest_first(data_set, lambda order: order["financial_status"] in expected)


@pytest.mark.parametrize(
    ("fulfillment_status", "expected"),
    [
        ("null", {None}),
        ("not_fulfilled", {None}),
        ("partial", {"partial"}),
        ("fulfilled", {"fulfilled"}),
        ("shipped", {"fulfilled"}),
        ("any", {None, "partial", "fulfilled"}),
    ],
)
async def test_fulfillment_status(
    lister: Lister, data_set: list[dict[str, Any]], fulfillment_status: str, expected: set[str | None]
) -> None:
    found = await lister.ids_of(status="any", fulfillment_status=fulfillment_status)

    assert found == newest_first(data_set, lambda order: order["fulfillment_status"] in expected)
    assert found


async def test_page_walks_every_order_once_newest_first_and_ends_in_an_empty_page(
    lister: Lister, data_set: list[dict[str, Any]]
) -> None:
    pages = [await lister.ids_of(status="any", limit=5, page=page) for page in range(1, 7)]

    assert [len(page) for page in pages] == [5, 5, 5, 5, 4, 0]
    assert [order_id for page in pages for order_id in page] == newest_first(data_set)
    assert await lister.ids_of(status="any", limit=250) == newest_first(data_set)
    assert await lister.ids_of(status="any", limit=1, page=3) == newest_first(data_set)[2:3]
    assert await lister.ids_of(status="any", limit=250, page=2) == []


async def test_since_id_walks_every_order_once_oldest_first(lister: Lister, data_set: list[dict[str, Any]]) -> None:
    walked: list[int] = []
    since_id = 0
    while page := await lister.ids_of(status="any", limit=1, since_id=since_id):
        walked.extend(page)
        since_id = page[-1]

    oldest_first = sorted(order["id"] for order in data_set)
    assert walked == oldest_first
    assert await lister.ids_of(status="any", since_id=oldest_first[-1]) == []
    assert await lister.ids_of(status="any", since_id=oldest_first[9], limit=250) == oldest_first[10:]
    assert await lister.ids_of(status="any", since_id=oldest_first[9], limit=5, page=3) == oldest_first[20:]


def processed_between(data_set: list[dict[str, Any]], first_hour: int, last_hour: int) -> list[int]:
    by_hour = {order["email"]: order["id"] for order in data_set}
    return sorted((by_hour[f"listing-{index}@example.com"] for index in range(first_hour, last_hour + 1)), reverse=True)


@pytest.mark.parametrize(
    ("bounds", "hours"),
    [
        # 2015-03-28 03:00 EDT (-04:00) is 07:00 UTC; 19:30 in +09:00 is 10:30 UTC.
        (
            {"processed_at_min": "2015-03-28 03:00:00 EDT -04:00", "processed_at_max": "2015-03-28T19:30:00+09:00"},
            (7, 10),
        ),
        # The documented form without an offset is UTC.
        ({"processed_at_min": "2015-03-28 12:00"}, (12, ORDERS - 1)),
        # 05:30 IST (+05:30) is 00:00 UTC, the first order: the bounds are inclusive.
        ({"processed_at_max": "2015-03-28T05:30:00+05:30"}, (0, 0)),
        ({"processed_at_min": "2015-03-28T02:00:00Z", "processed_at_max": "2015-03-28T01:00:00Z"}, (1, 0)),
    ],
)
async def test_processed_at_ranges_in_other_time_zones(
    lister: Lister, data_set: list[dict[str, Any]], bounds: dict[str, str], hours: tuple[int, int]
) -> None:
    found = await lister.ids_of(status="any", **bounds)

    assert found == processed_between(data_set, *hours)


async def test_created_and_updated_at_ranges_in_other_time_zones(
    lister: Lister, data_set: list[dict[str, Any]]
) -> None:
    def at(order: dict[str, Any], key: str) -> datetime:
        return datetime.fromisoformat(order[key])

    middle = sorted(data_set, key=lambda order: at(order, "created_at"))[ORDERS // 2]
    pivot = at(middle, "created_at")
    in_saigon = pivot.astimezone(timezone(timedelta(hours=7))).isoformat()
    in_newfoundland = pivot.astimezone(timezone(-timedelta(hours=3, minutes=30))).isoformat()

    after = await lister.ids_of(status="any", created_at_min=in_newfoundland)
    before = await lister.ids_of(status="any", created_at_max=in_saigon)
    closed_after = await lister.ids_of(status="any", updated_at_min=in_newfoundland)

    assert after == newest_first(data_set, lambda order: at(order, "created_at") >= pivot)
    assert before == newest_first(data_set, lambda order: at(order, "created_at") <= pivot)
    assert closed_after == newest_first(data_set, lambda order: at(order, "updated_at") >= pivot)
    assert set(after) & set(before) == {middle["id"]}


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"status": "any"}, "true"),
        ({}, "status = 'open'"),
        ({"status": "closed", "financial_status": "pending"}, "status = 'closed' AND financial_status = 'pending'"),
        (
            {"financial_status": "authorized", "fulfillment_status": "unshipped"},
            "status = 'open' AND financial_status = 'authorized' AND fulfillment_status IS NULL",
        ),
        ({"status": "any", "fulfillment_status": "partial"}, "fulfillment_status = 'partial'"),
    ],
)
async def test_a_count_by_status_alone_is_the_whole_tables_and_the_service_folds_its_changes(
    lister: Lister, stack: tuple[str, str], params: dict[str, str], where: str
) -> None:
    """Without `ids` a count by statuses reads the counters (store/order_counts.py): it agrees with a
    COUNT(*) over the shared table (once the other tests' services are quiet), and the changes recorded
    for it are folded by the service's background loop."""
    admin = await asyncpg.connect(stack[0])
    try:

        async def counted_and_truth() -> tuple[Any, int]:
            counted = await lister.http.get(f"{lister.api}/com/orders/count.json", params=params, headers=AUTH)
            truth = await admin.fetchval(f"SELECT count(*) FROM order_api.orders WHERE {where}")
            return counted.json(), truth

        await eventually(counted_and_truth, lambda both: both[0] == {"count": both[1]}, timeout=30)
        await eventually(
            lambda: admin.fetchval("SELECT count(*) FROM order_api.order_count_changes"), lambda left: left == 0
        )
    finally:
        await admin.close()
