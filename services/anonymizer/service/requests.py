"""Erasure requests (design section 4): a customer's erasure covers every order the copy links to the
person (by email hash or customer id, and by the customer records an email leads to) and asks order_api
to anonymize each (`order.anonymize_requested` on orders.ingest, through the outbox): eligible ones are
anonymized at once, the others when they become eligible; each order's erasure waits until its
`order.anonymized` opens it. Each customer record of the person (the customer id named, those of the
person's orders) is to be erased too (`customer.erase_requested`, key = customer id; order_api masks it
once its orders are anonymized and answers `customer.erased`): the request records each, and is
complete only when every order is and every customer record is erased. A request is read with each
order's progress and receipts and each customer record's state, and listed newest first a page at a
time."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from services.anonymizer import domain
from services.anonymizer.domain import CustomerErasure, ErasureRequest, OrderErasure, Receipt, RequestQuery
from services.anonymizer.service.ports import Ports
from shared.consumer import Unprocessable
from shared.db import Connection
from shared.erasure import CUSTOMER_ERASE_REQUESTED, CustomerErased, CustomerEraseRequestedFact
from shared.events import Event
from shared.logging import get_logger
from shared.order_facts import ANONYMIZE_REQUESTED, AnonymizeRequestedFact
from shared.services import ANONYMIZER
from shared.topics import ORDERS_INGEST

log = get_logger(__name__)


class RequestNotFound(Exception):
    def __init__(self, request_id: uuid.UUID) -> None:
        super().__init__(f"There is no erasure request {request_id}.")


class NoSubject(ValueError):
    """A customer erasure names nobody: no email to match (blank or masked) and no customer id."""


@dataclass(frozen=True, slots=True)
class OrderProgress:
    """One order of a request: its erasure and the receipts in so far."""

    erasure: OrderErasure
    receipts: list[Receipt]

    @property
    def missing(self) -> list[str]:
        return domain.missing(self.erasure, self.receipts) if self.erasure.state != "waiting" else []


@dataclass(frozen=True, slots=True)
class RequestView:
    request: ErasureRequest
    orders: list[OrderProgress]
    customers: list[CustomerErasure]


async def ask_to_anonymize(
    ports: Ports, conn: Connection, request: ErasureRequest, order_ids: Sequence[int], customer_id: int | None
) -> None:
    """Record the request over its orders (in the caller's transaction): a waiting erasure for each (an
    order under way keeps its erasure) and order_api asked to anonymize each (`order.anonymize_requested`
    through the outbox), now if it is eligible, else when it becomes so."""
    await ports.store.insert_request(conn, request, order_ids)
    for order_id in order_ids:
        await ports.store.wait_for(conn, domain.waiting(order_id, customer_id))
        fact = AnonymizeRequestedFact(order_id=order_id, request_id=request.id)
        await ports.outbox.enqueue(
            conn, ORDERS_INGEST, Event.new(ANONYMIZE_REQUESTED, ANONYMIZER.name, str(order_id), fact)
        )


class ErasureRequestService:
    def __init__(self, ports: Ports) -> None:
        self._ports = ports
        self._store = ports.store
        self._key = ports.settings.email_hash_key.get_secret_value().encode()

    async def erase_customer(self, *, email: str | None = None, customer_id: int | None = None) -> RequestView:
        """A customer's erasure, in one transaction: the request, a waiting erasure for each of the
        person's orders not anonymized yet (those of the email or customer id, and every order of the
        customer records they lead to; an order under way keeps its erasure), order_api asked to
        anonymize each and to erase each customer record of the person (the request waits for each
        record's `customer.erased`). A request that finds neither an order nor a customer record is
        complete at once."""
        hashed = domain.email_hash(self._key, email) if email is not None else None
        if hashed is None and customer_id is None:
            raise NoSubject("give an email or a customer id")
        now = self._ports.clock()
        async with self._ports.db.acquire() as conn, conn.transaction():
            # The person's customer records first: an email finds the account through one order, and
            # every order of that account is the person's (order_api masks the record after the last).
            customer_ids = await self._customers(conn, hashed, customer_id)
            order_ids = await self._store.orders_of_person(conn, email_hash=hashed, customer_ids=customer_ids)
            found = bool(order_ids or customer_ids)
            request = ErasureRequest(
                id=uuid.uuid4(),
                kind="customer",
                status="waiting" if found else "complete",
                created_at=now,
                customer_id=customer_id,
                email_hash=hashed,
                completed_at=None if found else now,
            )
            await ask_to_anonymize(self._ports, conn, request, order_ids, customer_id)
            await self._store.insert_request_customers(conn, request.id, customer_ids)
            for erased in customer_ids:
                data = CustomerEraseRequestedFact(customer_id=erased, request_id=request.id)
                event = Event.new(CUSTOMER_ERASE_REQUESTED, ANONYMIZER.name, str(erased), data)
                await self._ports.outbox.enqueue(conn, ORDERS_INGEST, event)
            await self._store.refresh_request(conn, request.id, now)
            view = await self._view(conn, request.id)
        log.info(
            "customer erasure requested", request_id=str(request.id), orders=len(order_ids), customers=len(customer_ids)
        )
        return view

    async def _customers(self, conn: Connection, email_hash: bytes | None, customer_id: int | None) -> list[int]:
        """The customer records order_api is to erase: the customer named, and those of the person's orders."""
        found = await self._store.customers_of_person(conn, email_hash=email_hash, customer_id=customer_id)
        return sorted({*found, *([customer_id] if customer_id is not None else [])})

    async def customer_erased(self, conn: Connection, event: Event) -> None:
        """order_api's `customer.erased` (in the consumer's transaction): the customer record erased for
        every request it answers (a repeat keeps the first answer), whose status then follows.
        Unprocessable when it answers no request that asked for that record."""
        if not isinstance(event.data, CustomerErased):
            raise Unprocessable(f"{event.type} is not a customer record's receipt")
        data, now = event.data, self._ports.clock()
        answered = [
            request_id
            for request_id in data.request_ids
            if await self._store.customer_erased(conn, request_id, data.customer_id, data.rows, data.erased_at)
        ]
        if not answered:
            raise Unprocessable(f"no erasure request asked for customer {data.customer_id}")
        for request_id in answered:
            await self._store.refresh_request(conn, request_id, now)
        unknown = [str(request_id) for request_id in data.request_ids if request_id not in answered]
        log.info("customer record erased", customer_id=data.customer_id, requests=len(answered), rows=data.rows)
        if unknown:
            log.warning("customer record receipt names unknown requests", customer_id=data.customer_id, unknown=unknown)

    async def get(self, request_id: uuid.UUID) -> RequestView:
        # One snapshot for the request's four reads: read apart, a receipt committed between them gave a
        # view whose status still said `erasing` while its orders said complete.
        async with self._ports.db.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            return await self._view(conn, request_id)

    async def list(self, query: RequestQuery) -> list[ErasureRequest]:
        async with self._ports.db.acquire() as conn:
            return await self._store.list_requests(conn, query)

    async def _view(self, conn: Connection, request_id: uuid.UUID) -> RequestView:
        request = await self._store.fetch_request(conn, request_id)
        if request is None:
            raise RequestNotFound(request_id)
        receipts = await self._store.request_receipts(conn, request_id)
        orders = [
            OrderProgress(erasure, [receipt for receipt in receipts if receipt.erasure_id == erasure.erasure_id])
            for erasure in await self._store.request_erasures(conn, request_id)
        ]
        return RequestView(request, orders, await self._store.request_customers(conn, request_id))
