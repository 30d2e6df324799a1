"""The order's customer: whether the order is a guest's, what it shows of its customer, and who may see it."""

from services.order_api.domain.money import money
from shared.orders import CustomerSnapshot, OrderSnapshot


def is_guest(customer: CustomerSnapshot | None) -> bool:
    """A guest order has no registered customer account behind it (only, perhaps, a record made at checkout)."""
    return customer is None or customer.state != "enabled"


def with_counted_customer(order: OrderSnapshot, counted: CustomerSnapshot) -> OrderSnapshot:
    """The order showing its customer as the customer's record stands once this order is counted on it
    (orders count, total spent, last order), the total spent at the order currency's precision."""
    spent = money(counted.total_spent, order.currency)
    return order.model_copy(update={"customer": counted.model_copy(update={"total_spent": spent})})


def as_seen_without_read(order: OrderSnapshot) -> OrderSnapshot:
    """The order as a caller that may change orders but not read them is shown it: without its
    customer record. That record holds what the account's owner or earlier orders gave (names,
    phone, note, order count, lifetime spend), not what this caller sent."""
    return order.model_copy(update={"customer": None})
