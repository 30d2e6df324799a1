"""order_api run with several worker processes (ORDER_API_WORKERS), as bench/order_create.py runs it:
both serve the port, every create is still published exactly once (one outbox relay leads at a time),
and SIGTERM still drains and exits 0."""

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from shared.services import ORDER_API
from shared.topics import ORDERS_EVENTS
from tests.e2e.conftest import FAST_SETTINGS, LOG_DIR
from tests.support.kafka import header, read_records
from tests.support.order_api_facts import AUTH
from tests.support.processes import ServiceProcess
from tests.support.storefront import CREATE_PATH, order_body


def _worker_processes(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    # uvicorn starts its workers with multiprocessing's spawn (beside them: the resource tracker).
    return [int(child) for child in children if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


async def test_two_workers_serve_creates_and_publish_each_order_created_once(
    stack: tuple[str, str], http: httpx.AsyncClient
) -> None:
    api = ServiceProcess(ORDER_API, stack, LOG_DIR, {**FAST_SETTINGS, "ORDER_API_WORKERS": "2"})
    api.start()
    try:
        assert len(_worker_processes(api.pid)) == 2

        async def create(index: int) -> dict[str, Any]:
            response = await http.post(
                api.url + CREATE_PATH, json=order_body(email=f"worker{index}@example.com"), headers=AUTH
            )
            assert response.status_code == 201, response.text
            order: dict[str, Any] = response.json()["order"]
            return order

        orders = await asyncio.gather(*(create(index) for index in range(20)))
    finally:
        assert api.terminate() == 0
    tokens = {str(order["id"]).encode(): order["token"].encode() for order in orders}

    def created_here(record: Any) -> bool:
        return record.key in tokens and tokens[record.key] in record.value

    records = await read_records(stack[1], ORDERS_EVENTS, created_here, expect=len(orders))
    assert Counter(record.key for record in records) == Counter(tokens.keys())
    assert {header(record, "ce_type") for record in records} == {"order.created"}
