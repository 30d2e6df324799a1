"""What the fan-out hands straight to this instance's sender (services/webhook_dispatcher/handoff.py):
only what the sender has room for, only once its transaction committed, and never what rolled back."""

import uuid
from datetime import timedelta

from services.webhook_dispatcher.domain import Delivery, Written
from services.webhook_dispatcher.handoff import Handoff
from services.webhook_dispatcher.store import ALL_LEASED

A, B, C = (uuid.UUID(int=number) for number in (1, 2, 3))
LEASE = timedelta(seconds=40)  # a transaction's messages are handed over within 20 s of their write


def _delivery(endpoint_id: uuid.UUID, message_id: int = 1) -> Delivery:
    return Delivery(message_id, uuid.uuid4(), "order.created", None, b"{}", 1, endpoint_id, "https://x.example/", "s")


class _Sender:
    """Takes `room` more messages of each endpoint (2 of one not listed), `free` in all."""

    def __init__(self, room: dict[uuid.UUID, int] | None = None, free: int = 50) -> None:
        self.room = room or {}
        self.free = free
        self.sent: list[Delivery] = []


def _attached(sender: _Sender, clock: list[float] | None = None) -> Handoff:
    times = clock if clock is not None else [0.0]
    handoff = Handoff(LEASE, clock=lambda: times[0])
    handoff.attach(lambda endpoint_id: sender.room.get(endpoint_id, 2), lambda: sender.free, sender.sent.append)
    return handoff


def test_room_is_what_each_endpoint_and_the_sender_have_left_counting_what_was_handed_over() -> None:
    sender = _Sender(room={A: 0, B: 1}, free=3)
    handoff = _attached(sender)

    assert handoff.room([A, B, C]) == [B, C]  # A is full (or resting)
    handoff.written(Written("7", 2, [_delivery(B), _delivery(C)]))
    assert handoff.room([A, B, C]) == [C]  # B is full now; one slot of the sender's is left
    assert handoff.in_flight({A: 2, B: 1}) == {A: 2, B: 2, C: 1}  # what the claim leaves out
    sender.free = 2
    assert handoff.room([C]) == []


def test_an_endpoint_named_once_per_message_of_a_batch_takes_no_more_than_its_room() -> None:
    handoff = _attached(_Sender(room={A: 2, B: 1}, free=4))

    assert handoff.room([A, B, A, B, A, C, C]) == [A, A, B, C]  # the sender's four slots


def test_nothing_is_handed_over_while_the_sender_is_not_running() -> None:
    handoff = Handoff(LEASE)
    assert handoff.room([A]) == []
    sender = _Sender()
    handoff = _attached(sender)
    handoff.detach()
    assert handoff.room([A]) == []


def test_a_transactions_messages_go_to_the_sender_on_its_commit_and_no_claim_is_needed_for_them() -> None:
    sender = _Sender()
    handoff = _attached(sender)
    first, second = _delivery(A, 1), _delivery(B, 2)
    handoff.written(Written("7", 1, [first]))
    handoff.written(Written("7", 1, [second]))  # the next event in the same transaction

    assert sender.sent == []  # not before the commit
    assert handoff.committed("7") is False
    assert sender.sent == [first, second]
    assert handoff.in_flight({}) == {}  # the sender counts them from now on
    assert handoff.committed("7") is True  # heard again, or another instance's: a claim decides


def test_a_transaction_that_also_left_messages_to_the_claim_calls_for_one() -> None:
    sender = _Sender()
    handoff = _attached(sender)
    handoff.written(Written("8", 3, [_delivery(A)]))

    assert handoff.committed("8") is True
    assert len(sender.sent) == 1


def test_a_transaction_not_heard_to_commit_within_half_the_lease_is_left_to_the_claim() -> None:
    clock = [100.0]
    handoff = _attached(_Sender(room={A: 1}), clock=clock)
    handoff.written(Written("9", 1, [_delivery(A)]))  # rolled back, or its commit heard too late
    assert handoff.room([A]) == []

    clock[0] += 21
    handoff.written(Written("10", 1, [_delivery(B)]))

    assert handoff.room([A]) == [A]  # the room it held is free again
    assert handoff.committed("9") is True  # heard at last: its message waits for its lease and a claim


def test_a_commit_heard_late_hands_nothing_over() -> None:
    sender = _Sender()
    clock = [100.0]
    handoff = _attached(sender, clock=clock)
    handoff.written(Written("11", 1, [_delivery(A)]))

    clock[0] += 21
    assert handoff.committed("11") is True
    assert sender.sent == []


def test_a_commit_of_a_transaction_that_leased_every_message_calls_for_no_claim() -> None:
    sender = _Sender()
    handoff = _attached(sender)
    handoff.written(Written("12", 1, [_delivery(A)]))

    assert handoff.committed("12" + ALL_LEASED) is False
    assert len(sender.sent) == 1
    # Heard again (a one-statement fan-out hands its messages over itself, its NOTIFY comes too), or
    # another instance's that leased all it wrote: nothing for a claim to find before the leases run out.
    assert handoff.committed("12" + ALL_LEASED) is False
    assert handoff.committed("13" + ALL_LEASED) is False
    assert handoff.committed("13") is True
