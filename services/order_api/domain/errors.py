"""How an order rule says no: the field to fix, a stable code and a message."""

from typing import Final

from shared.rules import RuleError

# A rule about the order as a whole rather than one of its fields; each dialect names it its own way.
WHOLE_ORDER: Final = ""


class OrderRuleError(RuleError):
    """Well-typed input that breaks an order rule (HTTP 422); `field` names what to fix."""


class OrderStateError(OrderRuleError):
    """A change the order's current state does not allow (HTTP 409)."""


class ReadAccessRequired(OrderRuleError):
    """A request only a caller that may read orders can make, from one that may not (HTTP 403)."""
