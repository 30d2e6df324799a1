"""The contract of erasure (topic anonymization.events, key = order id): the anonymizer asks every
service that holds personal data to erase an anonymized order's copies (`erasure.requested`), each
answers with a receipt (`erasure.completed`), and a request still unanswered past its deadline is
reported (`erasure.overdue`) and asked again. A customer's record is asked for on orders.ingest
(`customer.erase_requested`) and answered on anonymization.events (`customer.erased`, key = the
customer id).

None of these carries personal data (ids, service and table names, counts, times), so the topic keeps
the default retention; none is for webhook subscribers (operators' and services' business only).
"""

import uuid
from typing import Final

from pydantic import AwareDatetime, Field

from shared.orders import Snapshot

# A service's name as it signs its receipt: its `ServiceSpec.name` ("order_api", "cancellation_worker",
# "webhook_dispatcher", "anonymizer").
ServiceName = str

# What every service writes in place of a personal value it erases (the anonymizer and the dispatcher
# recognise order_api's masked order by it).
MASK: Final = "*"

ERASURE_REQUESTED: Final = "erasure.requested"
ERASURE_COMPLETED: Final = "erasure.completed"
ERASURE_OVERDUE: Final = "erasure.overdue"
CUSTOMER_ERASED: Final = "customer.erased"
CUSTOMER_ERASE_REQUESTED: Final = "customer.erase_requested"


class ErasureRequested(Snapshot):
    """`erasure.requested`: erase every copy of the order's personal data and answer with a receipt.
    Sent again (same `erasure_id`, `attempt` + 1) while receipts are missing past the deadline; a
    service answers every attempt, erasing again (0 rows the second time)."""

    erasure_id: uuid.UUID
    order_id: int
    customer_id: int | None = None
    anonymized_sequence: int  # the `order.anonymized` event's sequence: the masked snapshot's
    services: list[ServiceName]  # the receipts expected
    attempt: int = Field(ge=1)
    requested_at: AwareDatetime


class ErasureCompleted(Snapshot):
    """`erasure.completed`: a service's receipt, what it erased of the order, by table."""

    erasure_id: uuid.UUID
    order_id: int
    service: ServiceName
    rows: dict[str, int]  # table -> rows touched, e.g. {"bank_accounts": 1, "notifications": 2}
    attempt: int = Field(ge=1)
    completed_at: AwareDatetime


class ErasureOverdue(Snapshot):
    """`erasure.overdue`: receipts still missing at the deadline of `attempt` (the request is sent
    again as attempt + 1)."""

    erasure_id: uuid.UUID
    order_id: int
    missing: list[ServiceName]
    attempt: int = Field(ge=1)
    requested_at: AwareDatetime
    deadline_at: AwareDatetime


class CustomerEraseRequestedFact(Snapshot):
    """`customer.erase_requested` on orders.ingest (key: the customer id), from the anonymizer's customer
    erasure: order_api masks the customer's record and the checkout records with its email, once none
    of the customer's orders is still to be anonymized (at once when none is)."""

    customer_id: int
    request_id: uuid.UUID  # the anonymizer's erasure request


class CustomerErased(Snapshot):
    """`customer.erased`: order_api's receipt for a customer's record, answering every erasure request
    that waited on it. `rows` counts the records masked by table ({"customers": 0} when order_api
    knows no such customer, or had masked it already: nothing of it is left to erase)."""

    customer_id: int
    request_ids: list[uuid.UUID] = Field(min_length=1)  # the anonymizer's requests answered
    rows: dict[str, int]  # table -> records masked, e.g. {"customers": 2} (its own and a checkout record)
    erased_at: AwareDatetime
