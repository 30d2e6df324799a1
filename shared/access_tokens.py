"""Access tokens: short-lived bearer tokens standing for an API key (OAuth 2.0 client credentials,
RFC 6749 §4.4), stateless so that every instance holding the same secret accepts every other's.

A token is `oat1.<key id>.<expiry>.<signature>`: the key id names the API key without revealing it (an
HMAC of the key under the secret), the expiry is in epoch seconds, and the signature is HMAC-SHA256
under the secret over everything before it. Nothing is stored; a token is checked by recomputing its
signature (in constant time) and reading its expiry. What it may do is looked up by its key id in the
keys configured now, so a key removed from the configuration takes its tokens with it at once.
"""

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Final

_VERSION: Final = "oat1"
_KEY_ID_PURPOSE: Final = b"access token key id\x00"


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A token whose signature holds: the key it stands for (by id) and when it expires."""

    key_id: str
    expires_at: int

    def expired(self, now: float) -> bool:
        return now >= self.expires_at


class TokenSigner:
    """Issues and reads access tokens under one secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def key_id(self, api_key: str) -> str:
        """The id by which tokens name `api_key`: telling nothing of the key to whoever reads a token."""
        digest = hmac.new(self._secret, _KEY_ID_PURPOSE + api_key.encode(), hashlib.sha256).digest()
        return _b64(digest[:16])

    def issue(self, key_id: str, expires_at: int) -> str:
        unsigned = f"{_VERSION}.{key_id}.{expires_at}"
        return f"{unsigned}.{self._signature(unsigned)}"

    def read(self, token: str) -> AccessToken | None:
        """The token's content if its signature holds (whatever its expiry), else None."""
        unsigned, _, signature = token.rpartition(".")
        parts = unsigned.split(".")
        if len(parts) != 3 or parts[0] != _VERSION:
            return None
        if not hmac.compare_digest(signature.encode(), self._signature(unsigned).encode()):
            return None
        _, key_id, expires_at = parts
        if not (expires_at.isascii() and expires_at.isdigit()):
            return None
        return AccessToken(key_id, int(expires_at))

    def _signature(self, unsigned: str) -> str:
        return _b64(hmac.new(self._secret, unsigned.encode(), hashlib.sha256).digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
