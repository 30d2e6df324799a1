"""Standard Webhooks asymmetric signatures (`v1a`, ed25519): the key pair's text forms and the signature.

The secret key is `whsk_` + base64 of the 32-byte ed25519 seed, the public key `whpk_` + base64 of the
32-byte public key, and a signature `v1a,` + base64 of the 64-byte ed25519 signature of
`{id}.{timestamp}.{body}`: the forms of the specification's reference library
(libraries/go/webhook_asymmetric.go), whose test vector tests/unit/test_webhook_signing.py reproduces.
"""

import base64
import functools
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

SECRET_KEY_PREFIX: Final = "whsk_"  # noqa: S105 - a format prefix, not a secret
PUBLIC_KEY_PREFIX: Final = "whpk_"
VERSION: Final = "v1a"


def generate_secret_key() -> str:
    """A new ed25519 secret key in its Standard Webhooks form."""
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    return SECRET_KEY_PREFIX + base64.b64encode(seed).decode()


def is_secret_key(secret: str) -> bool:
    return secret.startswith(SECRET_KEY_PREFIX)


@functools.lru_cache(maxsize=4096)
def _private_key(secret_key: str) -> Ed25519PrivateKey:
    """The key object of a `whsk_` secret key; cached, as every message of an endpoint is signed by it."""
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(secret_key.removeprefix(SECRET_KEY_PREFIX)))


def public_key(secret_key: str) -> str:
    """The `whpk_` public key that verifies what `secret_key` signs."""
    raw = _private_key(secret_key).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return PUBLIC_KEY_PREFIX + base64.b64encode(raw).decode()


def sign(secret_key: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` entry: `v1a,` + base64 ed25519 signature of `id.timestamp.body`."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return f"{VERSION}," + base64.b64encode(_private_key(secret_key).sign(signed)).decode()
