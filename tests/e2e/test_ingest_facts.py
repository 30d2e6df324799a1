"""Facts from other services on orders.ingest, as order_api applies them: an order placed by checkout, a
fact delivered twice, and facts that can never apply (dead-lettered at once with the reason, while the
facts after them are still applied)."""

import uuid
from decimal import Decimal

import asyncpg
import httpx

from deploy.demo_catalog import ingest_record, publish
from shared.events import Event
from shared.kafka import OutgoingRecord
from shared.order_facts import (
    CustomerDraft,
    FulfillmentCreatedFact,
    FulfillmentLineFact,
    LineItemDraft,
    OrderDraft,
    OrderPlacedData,
    PaymentFact,
    TransactionDraft,
    VariantFact,
)
from shared.topics import ORDERS_INGEST, dlq
from tests.support.kafka import header, read_records
from tests.support.order_api_facts import (
    TEAPOTS,
    apply_facts,
    create_order,
    fact,
    get_order,
    order_events,
    unpaid_order,
    wait_applied,
)
from tests.support.processes import ServiceProcess


async def dead_letters(bootstrap: str, events: list[Event]) -> dict[uuid.UUID, tuple[str | None, str | None]]:
    """The DLQ entries of `events`, by event id: (dlq_error, dlq_attempts)."""
    ids = {str(event.id) for event in events}
    records = await read_records(
        bootstrap, dlq(ORDERS_INGEST), lambda record: header(record, "ce_id") in ids, expect=len(ids)
    )
    return {
        uuid.UUID(header(record, "ce_id")): (header(record, "dlq_error"), header(record, "dlq_attempts"))
        for record in records
    }


async def test_order_placed_creates_the_order_a_resent_one_is_ignored_and_a_clashing_one_dead_lettered(
    system: dict[str, ServiceProcess],
    http: httpx.AsyncClient,
    admin_db: asyncpg.Connection,
    stack: tuple[str, str],
    demo_catalog: dict[int, VariantFact],
) -> None:
    upstream_id = f"checkout-{uuid.uuid4().hex}"
    draft = OrderDraft(
        upstream_id=upstream_id,
        email="bob.norman@hostmail.com",
        customer=CustomerDraft(id=207119551),
        line_items=[LineItemDraft(variant_id=39072856, quantity=1), LineItemDraft(variant_id=49148385, quantity=2)],
    )
    placed = fact("order.placed", OrderPlacedData(order=draft), upstream_id)
    resent = fact("order.placed", OrderPlacedData(order=draft), upstream_id)  # a new event id, the same order
    clash = fact("order.placed", OrderPlacedData(order=draft.model_copy(update={"note": "another order"})), upstream_id)

    await publish(stack[1], [ingest_record(event) for event in (placed, resent, clash)])
    await wait_applied(admin_db, [placed, resent])

    [order_id] = await admin_db.fetch("SELECT id FROM order_api.orders WHERE upstream_id = $1", upstream_id)
    order = await get_order(http, system["order_api"].url, order_id["id"])
    assert [(item["name"], item["sku"], item["price"], item["quantity"]) for item in order["line_items"]] == [
        ("IPod Nano - 8gb - green", "IPOD2008GREEN", "199.00", 1),
        ("IPod Nano - 8gb - red", "IPOD2008RED", "199.00", 2),
    ]
    assert (order["total_price"], order["customer"]["id"]) == ("597.00", 207119551)
    events = await order_events(stack[1], order, expect=1)
    assert [(kind, sequence) for kind, sequence, _ in events] == [("order.created", 1)]  # once, not per fact
    reasons = await dead_letters(stack[1], [clash])
    assert reasons == {clash.id: (f"Unprocessable: upstream id {upstream_id!r} already names order {order['id']}", "1")}


async def test_a_fact_delivered_twice_is_applied_once(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, admin_db: asyncpg.Connection, stack: tuple[str, str]
) -> None:
    api = system["order_api"].url
    order = await create_order(http, api, unpaid_order(TEAPOTS))
    authorized = fact(
        "payment.authorized", PaymentFact(order_id=order["id"], amount=Decimal("50.00"), currency="USD"), order["id"]
    )
    captured = fact(
        "payment.captured", PaymentFact(order_id=order["id"], amount=Decimal("50.00"), currency="USD"), order["id"]
    )

    # The same record twice (a producer's retry), then another fact: in one partition, so once that
    # one is applied the second copy has been seen.
    await apply_facts(stack[1], admin_db, [authorized, authorized, captured])

    shown = await get_order(http, api, order["id"])
    assert [(t["kind"], t["amount"]) for t in shown["transactions"]] == [
        ("authorization", "50.00"),
        ("capture", "50.00"),
    ]
    events = await order_events(stack[1], order, expect=3)
    assert [(kind, sequence) for kind, sequence, _ in events] == [
        ("order.created", 1),
        ("order.updated", 2),
        ("order.paid", 3),
    ]


async def test_invalid_facts_go_to_the_dlq_at_once_with_the_reason_and_later_facts_still_apply(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, admin_db: asyncpg.Connection, stack: tuple[str, str]
) -> None:
    api = system["order_api"].url
    order = await create_order(http, api, unpaid_order(TEAPOTS))
    order_id, [item] = order["id"], order["line_items"]
    unknown_id = 9 * 10**17 + uuid.uuid4().int % 10**12  # no order has an id this large
    unknown_order = fact(
        "payment.captured", PaymentFact(order_id=unknown_id, amount=Decimal("1.00"), currency="USD"), unknown_id
    )
    over_fulfilled = fact(
        "fulfillment.created",
        FulfillmentCreatedFact(
            order_id=order_id,
            fulfillment_id=uuid.uuid4().int % 10**12,
            line_items=[FulfillmentLineFact(line_item_id=item["id"], quantity=3)],
        ),
        order_id,
    )
    other_currency = fact(
        "payment.captured", PaymentFact(order_id=order_id, amount=Decimal("50.00"), currency="EUR"), order_id
    )
    valid = fact("payment.captured", PaymentFact(order_id=order_id, amount=Decimal("50.00"), currency="USD"), order_id)
    # A payment fact whose amount is no number: its envelope is fine, its data is not.
    malformed = fact("payment.voided", PaymentFact(order_id=order_id, amount=Decimal(0), currency="USD"), order_id)
    malformed_record = OutgoingRecord(
        ORDERS_INGEST,
        malformed.key,
        b'{"order_id": %d, "amount": "plenty", "currency": "USD"}' % order_id,
        malformed.headers(),
    )

    await publish(
        stack[1],
        [ingest_record(unknown_order), malformed_record, *map(ingest_record, (over_fulfilled, other_currency, valid))],
    )
    await wait_applied(admin_db, [valid])

    reasons = await dead_letters(stack[1], [unknown_order, malformed, over_fulfilled, other_currency])
    assert reasons == {
        unknown_order.id: (f"Unprocessable: there is no order {unknown_id}", "1"),
        malformed.id: ("InvalidEvent: payment.voided data is invalid: amount: Input should be a valid decimal", "1"),
        over_fulfilled.id: (
            f"Unprocessable: line_items: invalid_quantity: line item {item['id']} has 2 left to fulfil, not 3",
            "1",
        ),
        other_currency.id: ("Unprocessable: currency: currency_mismatch: payment in EUR, order in USD", "1"),
    }
    shown = await get_order(http, api, order_id)
    assert (shown["financial_status"], shown["fulfillment_status"]) == ("paid", None)
    assert [(t["kind"], t["amount"], t["currency"]) for t in shown["transactions"]] == [("capture", "50.00", "USD")]
    events = await order_events(stack[1], order, expect=2)
    assert [(kind, sequence) for kind, sequence, _ in events] == [("order.created", 1), ("order.paid", 2)]


async def test_facts_that_would_outgrow_an_order_go_to_the_dlq_and_change_nothing(
    system: dict[str, ServiceProcess], http: httpx.AsyncClient, admin_db: asyncpg.Connection, stack: tuple[str, str]
) -> None:
    api = system["order_api"].url
    run = uuid.uuid4().hex
    # An order placed by checkout with as many transactions as an order may hold.
    authorizations = [TransactionDraft(kind="authorization", amount=Decimal("0.01"))] * 250
    full = OrderDraft(
        upstream_id=f"full-{run}",
        currency="USD",
        line_items=[LineItemDraft(title="Teapot", price=Decimal("25.00"), quantity=2)],
        transactions=authorizations,
    )
    # One whose event, carrying the whole order, would be over the limit (the fact itself is not).
    large = OrderDraft(
        upstream_id=f"large-{run}",
        note="n" * 1_005_000,
        line_items=[LineItemDraft(title="Teapot", price=Decimal("25.00"), quantity=2)],
    )
    placed = fact("order.placed", OrderPlacedData(order=full), full.upstream_id or "")
    too_large = fact("order.placed", OrderPlacedData(order=large), large.upstream_id or "")
    await apply_facts(stack[1], admin_db, [placed])
    [order_id] = await admin_db.fetch("SELECT id FROM order_api.orders WHERE upstream_id = $1", full.upstream_id)
    order = await get_order(http, api, order_id["id"])
    one_more = fact(
        "payment.captured", PaymentFact(order_id=order["id"], amount=Decimal("50.00"), currency="USD"), order["id"]
    )

    await publish(stack[1], [ingest_record(too_large), ingest_record(one_more)])

    reasons = await dead_letters(stack[1], [too_large, one_more])
    assert reasons[one_more.id] == (
        "Unprocessable: transactions: too_many_entries: transactions may hold at most 250 entries; this would make 251",
        "1",
    )
    reason, attempts = reasons[too_large.id]
    assert (reason or "").startswith("Unprocessable: order_too_large: the order would take ")
    assert "over the limit of 1,000,000" in (reason or "")
    assert attempts == "1"
    assert (
        await admin_db.fetchval("SELECT count(*) FROM order_api.orders WHERE upstream_id = $1", large.upstream_id) == 0
    )
    assert await get_order(http, api, order["id"]) == order
    events = await order_events(stack[1], order, expect=1)
    assert [(kind, sequence) for kind, sequence, _ in events] == [("order.created", 1)]
