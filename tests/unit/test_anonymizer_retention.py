"""Retention (services/anonymizer/service/retention.py) on the in-memory fakes: the copy keeps since when
order_api says each order may be anonymized; a sweep asks order_api to anonymize, a batch at a time and
longest eligible first, the orders eligible for the retention period, under a `retention` request the
erasures API lists, and leaves alone open, anonymized, deleted and already requested orders."""

from datetime import datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from pydantic import ValidationError

from services.anonymizer.domain import RequestQuery
from services.anonymizer.service.erasures import ErasureService
from services.anonymizer.service.orders import OrderCopyService
from services.anonymizer.service.requests import ErasureRequestService
from services.anonymizer.service.retention import RetentionService
from services.anonymizer.settings import AnonymizerSettings
from shared.erasure import ErasureCompleted
from shared.events import Event
from shared.order_facts import AnonymizeRequestedFact
from shared.orders import OrderLifecycleData
from shared.services import ANONYMIZER
from shared.topics import ORDERS_INGEST
from tests.support.anonymizer_fakes import fake_ports
from tests.support.cancellation_fakes import CONN
from tests.support.cancellations import paid_order

DAY = timedelta(days=1)


class World:
    def __init__(self, days: float = 30, batch: int = 100) -> None:
        ports, self.store, self.outbox, self.clock = fake_ports(
            receipt_services=["order_api", "anonymizer"], retention_batch_size=batch
        )
        self.erasures = ErasureService(ports)
        self.copies = OrderCopyService(ports, self.erasures)
        self.requests = ErasureRequestService(ports)
        self.retention = RetentionService(ports, days)
        self.sequences: dict[int, int] = {}

    async def order(
        self, order_id: int, eligible_since: datetime | None, *, event_type: str = "order.cancelled"
    ) -> None:
        sequence = self.sequences[order_id] = self.sequences.get(order_id, 0) + 1
        update: dict[str, object] = {"eligible_since": eligible_since}
        if event_type == "order.anonymized":
            update |= {"anonymized": True, "email": "*"}
        order = paid_order(order_id, email=f"guest{order_id}@example.com", status="cancelled")
        data = OrderLifecycleData(order_id=order_id, sequence=sequence, order=order.model_copy(update=update))
        await self.copies.order_changed(CONN, Event.new(event_type, "order_api", str(order_id), data), data)

    def asked(self) -> list[int]:
        """The orders order_api was asked to anonymize, in order."""
        return [
            data.order_id
            for data in self.outbox.on(ORDERS_INGEST, "order.anonymize_requested")
            if isinstance(data, AnonymizeRequestedFact)
        ]


def days_ago(world: World, days: float) -> datetime:
    return world.clock() - timedelta(days=days)


async def test_the_copy_keeps_since_when_the_order_may_be_anonymized() -> None:
    world = World()
    since = days_ago(world, 3)

    await world.order(1, since)
    assert world.store.known[1].eligible_since == since

    await world.order(1, None, event_type="order.updated")  # no longer eligible (say, reopened)
    assert world.store.known[1].eligible_since is None

    await world.order(2, since, event_type="order.deleted")  # gone from order_api: nothing to anonymize
    assert world.store.known[2].eligible_since is None


async def test_a_sweep_asks_for_the_orders_eligible_for_the_retention_period_and_no_others() -> None:
    world = World(days=30)
    await world.order(1, days_ago(world, 31))
    await world.order(2, days_ago(world, 29))  # eligible, not for long enough
    await world.order(3, None, event_type="order.created")  # open
    await world.order(4, days_ago(world, 40), event_type="order.anonymized")  # anonymized already
    await world.order(5, days_ago(world, 35))

    swept = await world.retention.sweep()

    assert swept is not None
    assert (swept.requested, swept.remaining) == (2, 0)
    assert world.asked() == [5, 1]  # longest eligible first
    facts = world.outbox.on(ORDERS_INGEST, "order.anonymize_requested")
    assert {fact.request_id for fact in facts if isinstance(fact, AnonymizeRequestedFact)} == {swept.request_id}
    assert {world.store.erasures[o].state for o in (1, 5)} == {"waiting"}
    assert 2 not in world.store.erasures
    assert 3 not in world.store.erasures

    # The erasures API lists the sweep's request, waiting for its orders.
    [listed] = await world.requests.list(RequestQuery(status="waiting"))
    assert (listed.id, listed.kind, listed.customer_id) == (swept.request_id, "retention", None)
    assert swept.request_id is not None
    view = await world.requests.get(swept.request_id)
    assert [progress.erasure.order_id for progress in view.orders] == [1, 5]


async def test_a_fractional_or_zero_period_counts_in_days() -> None:
    world = World(days=0.5)
    await world.order(1, days_ago(world, 0.6))
    await world.order(2, days_ago(world, 0.4))
    assert (await world.retention.sweep()) is not None
    assert world.asked() == [1]

    immediate = World(days=0)
    await immediate.order(1, immediate.clock())
    await immediate.retention.sweep()
    assert immediate.asked() == [1]


async def test_sweeps_go_a_batch_at_a_time_and_ask_for_no_order_twice() -> None:
    world = World(days=1, batch=2)
    for order_id, age in [(1, 5), (2, 4), (3, 3)]:
        await world.order(order_id, days_ago(world, age))

    first = await world.retention.sweep()
    second = await world.retention.sweep()
    third = await world.retention.sweep()

    assert first is not None
    assert second is not None
    assert third is not None
    assert [(s.requested, s.remaining) for s in (first, second, third)] == [(2, 1), (1, 0), (0, 0)]
    assert world.asked() == [1, 2, 3]
    assert third.request_id is None  # nothing due: no empty request recorded
    assert len(world.store.requests) == 2


async def test_an_order_with_an_erasure_already_is_not_asked_for_again() -> None:
    world = World(days=1)
    await world.order(1, days_ago(world, 5))
    await world.requests.erase_customer(email="guest1@example.com")  # a customer erasure asked first

    swept = await world.retention.sweep()

    assert swept is not None
    assert swept.requested == 0
    assert world.asked() == [1]  # the customer erasure's ask only


async def test_a_sweep_does_nothing_while_another_instance_sweeps() -> None:
    world = World(days=1)
    await world.order(1, days_ago(world, 5))
    world.store.sweeping_elsewhere = True

    assert await world.retention.sweep() is None
    assert world.asked() == []


async def test_the_retention_request_completes_with_its_orders_erasures() -> None:
    world = World(days=1)
    await world.order(1, days_ago(world, 5))
    swept = await world.retention.sweep()
    assert swept is not None
    assert swept.request_id is not None

    await world.order(1, days_ago(world, 5), event_type="order.anonymized")  # order_api did as asked
    erasure = world.store.erasures[1]
    receipt = ErasureCompleted(
        erasure_id=erasure.erasure_id,
        order_id=1,
        service="order_api",
        rows={"outbox": 3},
        attempt=1,
        completed_at=world.clock(),
    )
    await world.erasures.receipt(CONN, Event.new("erasure.completed", "order_api", "1", receipt))

    view = await world.requests.get(swept.request_id)
    assert (view.request.kind, view.request.status) == ("retention", "complete")
    assert [progress.erasure.state for progress in view.orders] == ["complete"]


async def test_the_metrics_count_the_orders_asked_for_and_those_still_due() -> None:
    def requested() -> float:
        return REGISTRY.get_sample_value("anonymizer_retention_orders_requested_total") or 0.0

    world = World(days=1, batch=1)
    await world.order(1, days_ago(world, 5))
    await world.order(2, days_ago(world, 4))
    before = requested()

    await world.retention.sweep()

    assert requested() - before == 1
    assert REGISTRY.get_sample_value("anonymizer_retention_orders_due") == 1


def test_retention_is_off_unless_set_and_refuses_a_negative_period(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANONYMIZER_RETENTION_DAYS", "ANONYMIZER_RETENTION_BATCH_SIZE"):
        monkeypatch.delenv(name, raising=False)
    defaults = AnonymizerSettings.load(ANONYMIZER)
    assert (defaults.retention_days, defaults.retention_batch_size) == (None, 100)

    monkeypatch.setenv("ANONYMIZER_RETENTION_DAYS", "0.25")
    assert AnonymizerSettings.load(ANONYMIZER).retention_days == 0.25

    monkeypatch.setenv("ANONYMIZER_RETENTION_DAYS", "-1")
    with pytest.raises(ValidationError, match="retention_days"):
        AnonymizerSettings.load(ANONYMIZER)
