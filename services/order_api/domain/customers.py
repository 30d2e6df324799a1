"""The order's customer: whether the order is a guest's, what it shows of its customer, and who may see it."""

from services.order_api.domain.money import money
from shared.orders import CustomerSnapshot, OrderSnapshot


def is_guest(customer: CustomerSnapshot | None) -> bool:
    """A guest order has no registered customer account behind it (only, perhaps, a record made at checkout)."""
    return customer is None or customer.state != "enabled"


def with_counted_customer(order: OrderSnapshot, customer: CustomerSnapshot) -> OrderSnapshot:
    """The order showing its customer (as read, locked, before this order) as the customer's record
    stands once the order's insert counts it there (orders count, total spent, last order), the total
    spent at the order currency's precision."""
    counted = counted_on(customer, order)
    spent = money(counted.total_spent, order.currency)
    return order.model_copy(update={"customer": counted.model_copy(update={"total_spent": spent})})


def counted_on(customer: CustomerSnapshot, order: OrderSnapshot) -> CustomerSnapshot:
    """The customer's record once `order` is counted on it: what the order's insert writes there."""
    return customer.model_copy(
        update={
            "orders_count": customer.orders_count + 1,
            "total_spent": customer.total_spent + order.total_price,
            "last_order_id": order.id,
            "last_order_name": order.name,
            "updated_at": order.updated_at,
        }
    )


def as_seen_without_read(order: OrderSnapshot) -> OrderSnapshot:
    """The order as a caller that may change orders but not read them is shown it: without its
    customer record. That record holds what the account's owner or earlier orders gave (names,
    phone, note, order count, lifetime spend), not what this caller sent."""
    return order.model_copy(update={"customer": None})
