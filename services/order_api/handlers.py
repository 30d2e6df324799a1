"""order_api's consumers: facts other services publish on `orders.ingest`, applied to the orders.

Each fact is applied in the idempotent consumer's transaction, so the change, its lifecycle event (in
the outbox) and the fact's id in `processed_events` commit together; a fact seen before is skipped by
its event id. A fact that can never apply (an unknown order, refund or line item, more than is left to
fulfil or return, another currency, a refund's answer for another amount or for a refund that already
succeeded, a decision on an item with no request waiting, an upstream id that names a different order,
an order that would outgrow its limits or whose event would be too large to publish, an anonymization
asked for an unknown order) is `Unprocessable`: it goes to `orders.ingest.dlq` at once, with the
reason. An answer the payment service gives twice for one ledger entry is recorded once. The erasure
of a customer order_api does not know is answered (`customer.erased`, nothing erased), not refused.

And `erasure.requested` on anonymization.events (that type only): an anonymized order's copies are
erased and the receipt published (service/erasure.py).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from services.order_api.domain.errors import WHOLE_ORDER
from services.order_api.domain.http_guards import RateLimitBuckets
from services.order_api.domain.payments import PaymentKind
from services.order_api.service.anonymization import AnonymizationService
from services.order_api.service.customer_erasure import CustomerErasureService
from services.order_api.service.erasure import ErasureService
from services.order_api.service.errors import OrderNotFound, UpstreamConflict
from services.order_api.service.facts import FactService
from services.order_api.service.lifecycle import utc_now
from services.order_api.service.orders import OrderService
from services.order_api.service.ports import Database
from services.order_api.settings import OrderApiSettings
from services.order_api.store import InTransaction
from shared.cancellations import CancellationDecision, CancellationReason, ReturnReceived, ShippingCompany
from shared.consumer import BATCH_RECORDS, EventHandler, Unprocessable
from shared.db import Connection
from shared.erasure import CUSTOMER_ERASE_REQUESTED, CustomerEraseRequestedFact, ErasureRequested
from shared.erasure_receipts import ErasureHandler, subscribe_to_erasures
from shared.events import Event
from shared.logging import get_logger
from shared.order_facts import (
    ANONYMIZE_REQUESTED,
    AnonymizeRequestedFact,
    CustomerFact,
    FulfillmentCancelledFact,
    FulfillmentCreatedFact,
    OrderPlacedData,
    PaymentFact,
    VariantFact,
)
from shared.orders import Snapshot
from shared.rules import RuleError
from shared.runtime import Runtime
from shared.topics import ORDERS_INGEST

log = get_logger(__name__)

FactT = TypeVar("FactT", bound=Snapshot)


@dataclass(frozen=True, slots=True)
class UseCases:
    """The use cases a fact may call, inside the consumer's transaction."""

    orders: OrderService
    facts: FactService
    anonymization: AnonymizationService
    customers: CustomerErasureService


FactHandler = Callable[[UseCases, Event], Awaitable[None]]


def _data(event: Event, model: type[FactT]) -> FactT:
    # decode_event validated the data against INGEST_FACTS[event.type]; this narrows the type.
    if not isinstance(event.data, model):
        raise Unprocessable(f"{event.type} carries {type(event.data).__name__}, not {model.__name__}")
    return event.data


async def _order_placed(use: UseCases, event: Event) -> None:
    draft = _data(event, OrderPlacedData).order
    # A re-sent order.placed (same upstream id, same order) is ignored; a clash (same upstream id,
    # another order) is an UpstreamConflict, dead-lettered. Checkout and other services are trusted
    # with every customer: they may name accounts by id.
    placed = await use.orders.place_order(draft, may_read=True)
    if not placed.created:
        log.info(
            "order.placed for an existing order ignored",
            upstream_id=draft.upstream_id,
            existing_id=placed.stored.order.id,
        )


async def _anonymize_requested(use: UseCases, event: Event) -> None:
    # Eligible: anonymized now; else it waits for the change that makes it eligible. Unknown: dead-lettered.
    await use.anonymization.anonymize_or_wait(_data(event, AnonymizeRequestedFact).order_id)


async def _customer_erase_requested(use: UseCases, event: Event) -> None:
    # Masked now, or when the customer's last order is anonymized; answered with `customer.erased` then
    # (an unknown customer at once, with nothing erased).
    await use.customers.erase_customer(_data(event, CustomerEraseRequestedFact))


def _applying(model: type[FactT], apply: Callable[[FactService, FactT], Awaitable[None]]) -> FactHandler:
    """The handler of a fact whose data is a `model`, applied by the fact service's `apply`."""

    async def handle(use: UseCases, event: Event) -> None:
        await apply(use.facts, _data(event, model))

    return handle


def _payment(kind: PaymentKind) -> FactHandler:
    return _applying(PaymentFact, lambda facts, fact: facts.apply_payment(kind, fact))


def _refund_answer(*, succeeded: bool) -> FactHandler:
    return _applying(PaymentFact, lambda facts, fact: facts.settle_refund(fact, succeeded=succeeded))


# Every type in shared.events.INGEST_FACTS, and what applying it means.
FACT_HANDLERS: Final[dict[str, FactHandler]] = {
    "order.placed": _order_placed,
    "payment.authorized": _payment("authorized"),
    "payment.captured": _payment("captured"),
    "payment.voided": _payment("voided"),
    "payment.refunded": _refund_answer(succeeded=True),
    "payment.refund_failed": _refund_answer(succeeded=False),
    "fulfillment.created": _applying(FulfillmentCreatedFact, FactService.apply_fulfillment),
    "fulfillment.cancelled": _applying(FulfillmentCancelledFact, FactService.apply_fulfillment),
    "catalog.variant.upserted": _applying(VariantFact, FactService.record_variant),
    "customer.upserted": _applying(CustomerFact, FactService.record_customer),
    "cancellation.decided": _applying(CancellationDecision, FactService.apply_decision),
    "return.received": _applying(ReturnReceived, FactService.record_return),
    "cancellation.reason.upserted": _applying(CancellationReason, FactService.record_reason),
    "shipping_company.upserted": _applying(ShippingCompany, FactService.record_shipping_company),
    ANONYMIZE_REQUESTED: _anonymize_requested,
    CUSTOMER_ERASE_REQUESTED: _customer_erase_requested,
}


def fact_applier(max_event_bytes: int, database: Callable[[Connection], Database] = InTransaction) -> EventHandler:
    """The consumer's handler: applies one `orders.ingest` fact inside its transaction (the store on the
    consumer's connection; `database` gives it)."""

    async def apply_fact(conn: Connection, event: Event) -> None:
        handler = FACT_HANDLERS.get(event.type)
        if handler is None:  # a valid event of another kind (say an order.created) published here by mistake
            raise Unprocessable(f"{event.type} is not a fact order_api applies")
        store = database(conn)
        use = UseCases(
            OrderService(store, max_event_bytes=max_event_bytes),
            FactService(store, max_event_bytes=max_event_bytes),
            AnonymizationService(store, max_event_bytes=max_event_bytes),
            CustomerErasureService(store, clock=utc_now),
        )
        try:
            await handler(use, event)
        except RuleError as error:  # OrderStateError too: the order's rules or state refuse this fact
            field = f"{error.field}: " if error.field != WHOLE_ORDER else ""
            raise Unprocessable(f"{field}{error.code}: {error.message}") from error
        except (OrderNotFound, UpstreamConflict) as error:
            raise Unprocessable(str(error)) from error

    return apply_fact


def order_eraser(
    buckets: RateLimitBuckets, database: Callable[[Connection], Database] = InTransaction
) -> ErasureHandler:
    """The `erasure.requested` handler: the order's copies erased and the receipt enqueued in the
    consumer's transaction (an older event still unsent raises, and the request is retried)."""

    async def erase_order(conn: Connection, request: ErasureRequested) -> None:
        await ErasureService(database(conn), buckets).erase_order(request)

    return erase_order


def subscribe(runtime: Runtime[OrderApiSettings]) -> None:
    # Facts taken per poll (shared.consumer.BATCH_RECORDS), applied up to 50 in one transaction
    # (TRANSACTION_RECORDS; a part that fails is applied again fact by fact). Each fact locks its order
    # until its part's transaction commits; the HTTP routes that lock an order wait that long at most,
    # and instances never share an order (a partition's key is the order id).
    runtime.subscribe([ORDERS_INGEST], fact_applier(runtime.settings.max_event_bytes), batch_records=BATCH_RECORDS)
    subscribe_to_erasures(runtime, order_eraser(runtime.settings.rate_limit_buckets()))
