"""Guest cancellation requests: taken from cancellations.requests, approved or rejected (by their type,
a return, or an operator), completed when their money went back. Each decision is published on
cancellations.events and told to order_api as a `cancellation.decided` fact."""

import dataclasses
from datetime import UTC, datetime

from services.cancellation_worker.domain.notices import request_notice
from services.cancellation_worker.domain.requests import (
    CancellationRequest,
    InvalidSubmission,
    RequestRefused,
    refund_method,
    requests_from,
)
from services.cancellation_worker.service.ports import Ports
from services.cancellation_worker.service.publishing import Publisher
from services.cancellation_worker.store import RequestQuery
from shared.cancellations import CancellationDecision, CancellationSubmitted, CancellationType, RequestStatus
from shared.consumer import Unprocessable
from shared.db import Connection
from shared.events import Event
from shared.orders import OrderSnapshot
from shared.refund_math import captured


class RequestNotFound(LookupError):
    def __init__(self, request_id: int) -> None:
        super().__init__(f"there is no cancellation request {request_id}")


class RequestService:
    def __init__(self, ports: Ports) -> None:
        self._ports = ports
        self._store = ports.store
        self._publish = Publisher(ports)

    # ---- from cancellations.requests ------------------------------------------------------------

    async def submitted(self, conn: Connection, event: Event) -> None:
        """Store an accepted submission's requests (its bank account apart), announce each, and approve
        the `cancel` ones at once, or, when the order's copy has not arrived yet (the two come on
        different topics), as soon as it does. A submission that can never be taken is Unprocessable."""
        if not isinstance(event.data, CancellationSubmitted):
            raise Unprocessable(f"{event.type} carries {type(event.data).__name__}")
        submitted = event.data
        try:
            requests = requests_from(submitted)
        except InvalidSubmission as error:
            raise Unprocessable(f"{error.field}: {error.code}: {error.message}") from error
        if not await self._store.insert_requests(conn, requests, event.id, submitted.bank_account):
            ids = ", ".join(str(request.request_id) for request in requests)
            raise Unprocessable(f"request id(s) {ids} exist already")
        order = await self._store.fetch_order(conn, submitted.order_id)
        # The order's channel from its copy, else from the submission (one from an older order_api: none).
        source_name = order.source_name if order else submitted.source_name
        for request in requests:
            await self._publish.request(conn, "cancellation.requested", request, source_name)
            if request.cancellation_type == "cancel" and order is not None:
                await self._approve(conn, request, order)

    # ---- from orders.events and the refund ledger -----------------------------------------------

    async def return_received(self, conn: Connection, order: OrderSnapshot) -> None:
        """A return arrived for the order: approve its `refund` requests waiting for one."""
        await self._approve_waiting(conn, order, "refund")

    async def order_known(self, conn: Connection, order: OrderSnapshot) -> None:
        """The order as it was when its guest asked (`order.cancellation_requested`): approve the
        `cancel` requests that came before any copy of it. How they pay back depends on the order (is
        there money, a customer to credit loyalty money to), so they could not be decided blind."""
        await self._approve_waiting(conn, order, "cancel")

    async def _approve_waiting(
        self, conn: Connection, order: OrderSnapshot, cancellation_type: CancellationType
    ) -> None:
        for request in await self._store.requests_of_order(conn, order.id):
            if request.status == "waiting" and request.cancellation_type == cancellation_type:
                locked = await self._found(conn, request.request_id)  # an operator may be deciding it now
                if locked.status == "waiting":
                    await self._approve(conn, locked, order)

    async def complete(self, conn: Connection, request_id: int, order: OrderSnapshot) -> None:
        """The request's money went back: completed (once; a request in another state is left)."""
        request = await self._store.fetch_request(conn, request_id, lock=True)
        if request is not None and request.status == "approved":
            await self._move(conn, request, "completed", order)

    # ---- the operator's ---------------------------------------------------------------------------

    async def approve(self, request_id: int) -> CancellationRequest:
        """Approve a waiting request (RequestRefused unless it waits)."""
        async with self._ports.db.acquire() as conn, conn.transaction():
            request = await self._found(conn, request_id)
            return await self._approve(conn, request, await self._store.fetch_order(conn, request.order_id))

    async def mark_returned(self, request_id: int) -> CancellationRequest:
        """The return a waiting `refund` request waits for arrived: approve it."""
        async with self._ports.db.acquire() as conn, conn.transaction():
            request = await self._found(conn, request_id)
            if request.cancellation_type != "refund":
                raise RequestRefused(
                    "cancellation_type", "not_a_return", f"request {request_id} is a cancel; nothing comes back"
                )
            return await self._approve(conn, request, await self._store.fetch_order(conn, request.order_id))

    async def reject(self, request_id: int) -> CancellationRequest:
        """Reject a waiting request: order_api clears the item's active-request flag."""
        async with self._ports.db.acquire() as conn, conn.transaction():
            request = await self._found(conn, request_id)
            order = await self._store.fetch_order(conn, request.order_id)
            rejected = await self._move(conn, request, "rejected", order)
            await self._decided(conn, rejected)
            return rejected

    async def get(self, request_id: int) -> CancellationRequest:
        async with self._ports.db.acquire() as conn:
            return await self._found(conn, request_id, lock=False)

    async def list(self, query: RequestQuery) -> list[CancellationRequest]:
        async with self._ports.db.acquire() as conn:
            return await self._store.list_requests(conn, **query)

    # ---- steps ------------------------------------------------------------------------------------

    async def _approve(
        self, conn: Connection, request: CancellationRequest, order: OrderSnapshot | None
    ) -> CancellationRequest:
        """Approve: decide how it pays back, tell order_api; with nothing to pay back it is complete."""
        method = refund_method(request, captured(order) if order else None, bool(order and order.customer))
        approved = await self._move(conn, dataclasses.replace(request, refund_method=method), "approved", order)
        await self._decided(conn, approved)
        if method is None and order is not None:
            return await self._move(conn, approved, "completed", order)
        return approved

    async def _decided(self, conn: Connection, request: CancellationRequest) -> None:
        decision = CancellationDecision(
            order_id=request.order_id,
            request_id=request.request_id,
            line_item_id=request.line_item_id,
            quantity=request.quantity,
            decision="rejected" if request.status == "rejected" else "approved",
            refund_method=request.refund_method,
        )
        await self._publish.fact(conn, "cancellation.decided", request.order_id, decision)

    async def _move(
        self, conn: Connection, request: CancellationRequest, status: RequestStatus, order: OrderSnapshot | None
    ) -> CancellationRequest:
        moved = request.moved_to(status, datetime.now(UTC))
        await self._store.save_request(conn, moved)
        await self._publish.request(conn, f"cancellation.{status}", moved, order.source_name if order else None)
        if order is not None:
            await self._publish.email(conn, request_notice(order, moved, self._ports.settings.message_id_domain))
        return moved

    async def _found(self, conn: Connection, request_id: int, *, lock: bool = True) -> CancellationRequest:
        request = await self._store.fetch_request(conn, request_id, lock=lock)
        if request is None:
            raise RequestNotFound(request_id)
        return request
