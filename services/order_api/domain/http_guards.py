"""What the HTTP guards keep: the order an Idempotency-Key's answer is about (the record itself is
shared/idempotency.py's), and the names of rate-limit buckets (counted in shared/rate_limits.py)."""

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Final

# An order's own URL, as a request's path or an answer's Location has it: Digital River's `/orders/{id}`,
# Haravan's `/com/orders/{id}.json` and `/com/orders/{id}/...`.
_ORDER_PATH: Final = re.compile(r"^(?:/com)?/orders/(\d{1,18})(?:[/.]|$)")


def order_of_answer(path: str, location: str | None) -> int | None:
    """The order a remembered answer is about: the one its request's path names, else the one its
    Location names (a create); None for a request about no single order."""
    for url in (path, location or ""):
        found = _ORDER_PATH.match(url)
        if found is not None:
            return int(found.group(1))
    return None


@dataclass(frozen=True, slots=True)
class RateLimitBuckets:
    """The names of the Akinon guest attempts' rate-limit buckets: per client, and per order number and
    client; and of the failed access token requests' (per client). A name holds neither the client's
    address (a browser's IP) nor the number as typed (which may be anything, an email included), only
    keyed hashes of them (HMAC-SHA256 under order_api's
    `rate_limit_hash_key`): the same client and number always count in the same bucket, and
    `rate_windows` holds no personal data."""

    key: bytes

    def of_attempt(self, number: str, client: str) -> tuple[str, str]:
        """The buckets an attempt on order `number` from `client` counts in: per client, per number."""
        client_hash = self._hash("client", client)
        return f"guest-lookup:client:{client_hash}", f"{self.of_number(number)}{client_hash}"

    def of_number(self, number: str) -> str:
        """What every bucket of attempts on order `number` begins with (the order's erasure deletes them)."""
        return f"guest-lookup:number:{self._hash('number', number)}:client:"

    def of_token_failures(self, client: str) -> str:
        """The bucket of `client`'s failed access token requests (`invalid_client`: a wrong API key)."""
        return f"token-failures:client:{self._hash('client', client)}"

    def _hash(self, kind: str, value: str) -> str:
        # The kind is hashed in, so a number and a client address that are the same text differ.
        return hmac.new(self.key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
