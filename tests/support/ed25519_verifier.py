"""A receiver's check of Standard Webhooks `v1a` (ed25519) signatures, as the specification describes it
and its reference implementation (libraries/go/webhook_asymmetric.go) does: the `whpk_` public key is
base64 of the raw 32-byte key; `webhook-signature` holds space-separated `version,base64` entries, and
the request verifies when one `v1a` entry is a valid signature of `{webhook-id}.{webhook-timestamp}.{body}`
within five minutes of now. The Python reference library (standardwebhooks) checks only `v1`."""

import base64
import binascii
import json
import time
from collections.abc import Mapping
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

TOLERANCE_SECONDS: Final = 5 * 60


class V1aVerificationError(Exception):
    pass


def verify_v1a(public_key: str, body: bytes, headers: Mapping[str, str]) -> Any:
    """The JSON payload of a request whose `v1a` signature `public_key` verifies; raises otherwise."""
    headers = {name.lower(): value for name, value in headers.items()}
    message_id, timestamp, signature = (headers.get(f"webhook-{name}") for name in ("id", "timestamp", "signature"))
    if not (message_id and timestamp and signature):
        raise V1aVerificationError("missing required headers")
    if abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        raise V1aVerificationError("timestamp outside the tolerance")
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key.removeprefix("whpk_")))
    signed = f"{message_id}.{timestamp}.".encode() + body
    for entry in signature.split(" "):
        version, _, encoded = entry.partition(",")
        if version != "v1a":
            continue
        try:
            key.verify(base64.b64decode(encoded, validate=True), signed)
        except (InvalidSignature, binascii.Error):
            continue
        return json.loads(body)
    raise V1aVerificationError("no matching v1a signature")
