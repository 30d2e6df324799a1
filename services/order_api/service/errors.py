"""What a use case can refuse besides an order rule (domain/errors.py): each maps to its own answer."""

from dataclasses import dataclass

from shared.orders import OrderSnapshot


class OrderNotFound(LookupError):
    def __init__(self, order_id: int) -> None:
        super().__init__(f"there is no order {order_id}")
        self.order_id = order_id


class StaleVersion(Exception):
    """The caller's If-Match names a version the order has moved past (HTTP 412)."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the order is at version {current}")
        self.current = current


class UpstreamConflict(Exception):
    """An order with this upstream id exists and was created from a different request (HTTP 409)."""

    def __init__(self, upstream_id: str, order_id: int) -> None:
        super().__init__(f"upstream id {upstream_id!r} already names order {order_id}")
        self.upstream_id = upstream_id
        self.order_id = order_id


class RateLimited(Exception):
    """Too many requests in a rate-limit window (HTTP 429); `retry_after` is whole seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limited; retry after {retry_after} s")
        self.retry_after = retry_after


class OrdersNotAnonymizable(Exception):
    """Some orders of an anonymization may not be anonymized (unknown, or not yet eligible): nothing was
    changed. `refused` pairs each such order id, as the caller gave it, with the reason (`not_found`, or
    the domain's Ineligibility) and the order when there is one."""

    def __init__(self, refused: "list[Refusal]") -> None:
        super().__init__(f"{len(refused)} order(s) may not be anonymized")
        self.refused = refused


@dataclass(frozen=True, slots=True)
class Refusal:
    order_id: str
    reason: str  # "not_found", or services.order_api.domain.anonymization.Ineligibility
    order: OrderSnapshot | None = None
