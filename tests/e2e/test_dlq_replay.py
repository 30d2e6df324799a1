"""Redriving a dead letter (`python -m deploy.dlq`), on the running system: a payment fact about an order
order_api does not have yet is dead-lettered; once the order exists, the replay applies it exactly once,
and replaying again does nothing."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import httpx

from deploy.demo_catalog import ingest_record, publish
from shared.order_facts import PaymentFact
from shared.services import REPO_ROOT
from shared.topics import ORDERS_INGEST, dlq
from tests.support.kafka import header, read_records
from tests.support.order_api_facts import TEAPOTS, create_order, fact, get_order, unpaid_order, wait_applied
from tests.support.processes import ServiceProcess


def dlq_tool(stack: tuple[str, str], *args: str) -> str:
    """Run the operator's tool as an operator would; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "deploy.dlq", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": stack[0], "KAFKA_BOOTSTRAP_SERVERS": stack[1]},
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_a_fact_dead_lettered_before_its_order_existed_is_applied_once_when_replayed(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, admin_db: asyncpg.Connection, stack: tuple[str, str]
) -> None:
    api = system["order_api"].url
    since = datetime.now(UTC)
    # The id the next order gets (nothing else creates orders meanwhile): the fact arrives first.
    next_id = 1 + await admin_db.fetchval("SELECT nextval('order_api.order_id_seq')")
    early = fact("payment.captured", PaymentFact(order_id=next_id, amount=Decimal("50.00"), currency="USD"), next_id)
    await publish(stack[1], [ingest_record(early)])
    [dead] = await read_records(stack[1], dlq(ORDERS_INGEST), lambda r: header(r, "ce_id") == str(early.id), expect=1)
    assert f"order {next_id}" in (header(dead, "dlq_error") or "")
    position = f"{dead.partition}:{dead.offset}"

    listed = dlq_tool(stack, "list", ORDERS_INGEST)
    assert any(line.startswith("waiting") and f" {position} " in line for line in listed.splitlines()), listed
    assert f"header ce_id: {early.id}" in dlq_tool(stack, "show", ORDERS_INGEST, position)

    order = await create_order(http, api, unpaid_order(TEAPOTS))
    assert order["id"] == next_id
    selection = ["--type", "payment.captured", "--since", since.isoformat()]
    dry = dlq_tool(stack, "replay", ORDERS_INGEST, *selection, "--dry-run")
    assert "would replay: 1, skipped as already replayed: 0" in dry, dry
    assert (await get_order(http, api, next_id))["financial_status"] == "pending"  # a dry run changes nothing

    first = dlq_tool(stack, "replay", ORDERS_INGEST, *selection)
    assert "replayed: 1, skipped as already replayed: 0" in first, first
    await wait_applied(admin_db, [early])
    second = dlq_tool(stack, "replay", ORDERS_INGEST, *selection)
    assert "replayed: 0, skipped as already replayed: 1" in second, second

    shown = await get_order(http, api, next_id)
    assert shown["financial_status"] == "paid"
    assert [(t["kind"], t["amount"]) for t in shown["transactions"]] == [("capture", "50.00")]
    copies = await read_records(stack[1], ORDERS_INGEST, lambda r: header(r, "ce_id") == str(early.id), expect=2)
    assert len(copies) == 2  # the fact as first sent, and its one replay
    assert sorted(header(copy, "dlq_replayed_from") or "" for copy in copies) == [
        "",
        f"{dlq(ORDERS_INGEST)}/{position}",
    ]
    listed = dlq_tool(stack, "list", ORDERS_INGEST)
    assert any(line.startswith("replayed") and f" {position} " in line for line in listed.splitlines()), listed
