"""Ordered endpoints, and several dispatcher processes sharing one backlog (also when one is killed)."""

import asyncio
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator

import httpx
import pytest

from shared.services import WEBHOOK_DISPATCHER
from tests.e2e.conftest import LOG_DIR, SCALE_SETTINGS
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess
from tests.support.receiver import Received, WebhookReceiver
from tests.support.webhooks import endpoints, new_order_id, order_event, order_of, payload, publish, wait_caught_up

TYPES = ["order.created", "order.updated", "order.paid", "order.closed"]


@pytest.fixture(scope="module", autouse=True)
async def caught_up(system: dict[str, ServiceProcess], stack: tuple[str, str]) -> None:
    await wait_caught_up(stack)


class Answers:
    """A receiver's answers by plan, and which requests it accepted, in arrival order."""

    def __init__(self, failures: dict[tuple[int, int], int], delay: float = 0.0) -> None:
        self._failures = dict(failures)  # (order id, sequence) -> attempts to refuse
        self._delay = delay
        self._lock = threading.Lock()
        self.accepted: list[Received] = []

    def __call__(self, request: Received) -> int:
        time.sleep(self._delay)
        order_id = order_of(request)
        key = (order_id, payload(request)["data"]["sequence"]) if order_id is not None else None
        with self._lock:
            if key is not None and self._failures.get(key, 0) > 0:
                self._failures[key] -= 1
                return 503
            self.accepted.append(request)
        return 204


async def _until_accepted(answers: Answers, orders: list[int], count: int) -> None:
    async def accepted() -> int:
        return len([request for request in answers.accepted if order_of(request) in orders])

    await eventually(accepted, lambda n: n >= count)


def _sequences(requests: list[Received], orders: list[int]) -> dict[int, list[int]]:
    """Each of `orders`' sequence numbers in arrival order (other tests' deliveries left out)."""
    by_order: dict[int, list[int]] = defaultdict(list)
    for request in requests:
        if (order_id := order_of(request)) in orders:
            by_order[order_id].append(payload(request)["data"]["sequence"])
    return by_order


async def test_an_ordered_endpoint_gets_each_orders_events_in_sequence_while_others_flow(
    system: dict[str, ServiceProcess], stack: tuple[str, str], http: httpx.AsyncClient
) -> None:
    orders = [new_order_id() for _ in range(6)]
    stuck = orders[0]
    # Every order's 2nd event fails once; the stuck order's 1st fails three times (about 2 s).
    plan = {(order_id, 2): 1 for order_id in orders} | {(stuck, 1): 3}
    ordered_answers, unordered_answers = Answers(plan), Answers(plan)
    with WebhookReceiver() as ordered_receiver, WebhookReceiver() as unordered_receiver:
        ordered_receiver.respond = ordered_answers
        unordered_receiver.respond = unordered_answers
        async with endpoints(http, system["webhook_dispatcher"].url) as api:
            await api.register(ordered_receiver.url, ["order.*"], ordered=True)
            await api.register(unordered_receiver.url, ["order.*"])
            events = [order_event(o, n, t) for o in orders for n, t in enumerate(TYPES, start=1)]
            await publish(stack[1], events)
            for answers in (ordered_answers, unordered_answers):
                await _until_accepted(answers, orders, len(events))

    ordered = _sequences(ordered_answers.accepted, orders)
    assert ordered == {order_id: [1, 2, 3, 4] for order_id in orders}
    # Nothing of an order reached the ordered endpoint before its predecessor was accepted.
    for order_id in orders:
        attempts = [r for r in ordered_receiver.received() if order_of(r) == order_id]
        accepted_at = {
            payload(r)["data"]["sequence"]: r.at for r in ordered_answers.accepted if order_of(r) == order_id
        }
        for request in attempts:
            sequence = payload(request)["data"]["sequence"]
            assert sequence == 1 or request.at >= accepted_at[sequence - 1]
    # The stuck order held up neither the other orders nor the unordered endpoint.
    stuck_first = next(r.at for r in ordered_answers.accepted if order_of(r) == stuck)
    others_done = max(r.at for r in ordered_answers.accepted if order_of(r) in orders[1:])
    assert others_done < stuck_first
    unordered_stuck_done = max(
        r.at for r in unordered_answers.accepted if order_of(r) == stuck and payload(r)["data"]["sequence"] > 1
    )
    assert unordered_stuck_done < stuck_first
    assert sorted(_sequences(unordered_answers.accepted, orders)[stuck]) == [1, 2, 3, 4]


# ---- several dispatchers -----------------------------------------------------------------------


@pytest.fixture
def two_dispatchers(system: dict[str, ServiceProcess], stack: tuple[str, str]) -> Iterator[list[ServiceProcess]]:
    """Two dispatcher processes of our own instead of the system's one, which is back afterwards."""
    system["webhook_dispatcher"].terminate()
    pair = [ServiceProcess(WEBHOOK_DISPATCHER, stack, LOG_DIR, SCALE_SETTINGS) for _ in range(2)]
    try:
        for process in pair:
            process.start()
        yield pair
    finally:
        for process in pair:
            if process.running:
                process.terminate()
        system["webhook_dispatcher"].start()


async def _delivered_count(http: httpx.AsyncClient, process: ServiceProcess) -> float:
    metrics = (await http.get(f"{process.url}/metrics")).text
    found = re.search(r'^webhook_attempts_total\{outcome="delivered"\} (\S+)$', metrics, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_two_dispatchers_share_one_backlog_without_sending_anything_twice(
    two_dispatchers: list[ServiceProcess], stack: tuple[str, str], http: httpx.AsyncClient
) -> None:
    receiver_answers = Answers({}, delay=0.01)
    order_ids = [new_order_id() for _ in range(300)]
    with WebhookReceiver() as receiver:
        receiver.respond = receiver_answers
        async with endpoints(http, two_dispatchers[0].url) as api:
            await api.register(receiver.url, ["order.*"])
            await publish(stack[1], [order_event(order_id, 1) for order_id in order_ids])
            mine = set(order_ids)
            await eventually(
                lambda: asyncio.sleep(0, [r for r in receiver.received() if order_of(r) in mine]),
                lambda found: len(found) >= len(order_ids),
                timeout=60,
            )
            await asyncio.sleep(1.0)  # a duplicate in flight would land now
            counts = Counter(order_of(r) for r in receiver.received() if order_of(r) in mine)
            shares = [await _delivered_count(http, process) for process in two_dispatchers]

    assert set(counts) == mine
    assert {order_id: n for order_id, n in counts.items() if n != 1} == {}
    assert all(share > 0 for share in shares), shares  # both did part of the work


async def test_a_dispatcher_killed_mid_backlog_loses_nothing(
    two_dispatchers: list[ServiceProcess], stack: tuple[str, str], http: httpx.AsyncClient
) -> None:
    order_ids = [new_order_id() for _ in range(300)]
    mine = set(order_ids)
    with WebhookReceiver() as receiver:
        receiver.respond = Answers({}, delay=0.2)
        async with endpoints(http, two_dispatchers[1].url) as api:
            endpoint = await api.register(receiver.url, ["order.*"])
            await publish(stack[1], [order_event(order_id, 1) for order_id in order_ids])
            # Every event fanned out (the backlog is in the database), and sending under way.
            await eventually(
                lambda: api.get(f"/webhooks/{endpoint['id']}/messages?limit=500"),
                lambda messages: len(messages) == len(order_ids),
                timeout=60,
            )
            await eventually(
                lambda: asyncio.sleep(0, len([r for r in receiver.received() if order_of(r) in mine])),
                lambda n: n >= 30,
                timeout=60,
            )
            two_dispatchers[0].kill()
            killed_at = len([r for r in receiver.received() if order_of(r) in mine])
            await eventually(
                lambda: asyncio.sleep(0, {order_of(r) for r in receiver.received()} & mine),
                lambda seen: seen == mine,
                timeout=90,
            )

    assert killed_at < len(order_ids), "the backlog was gone before the kill"
    counts = Counter(order_of(r) for r in receiver.received() if order_of(r) in mine)
    # At-least-once: only what the killed instance had in flight may arrive twice.
    assert sum(n - 1 for n in counts.values()) <= 10
