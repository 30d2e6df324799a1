"""Whether two requests are the same one (an order's create, an Idempotency-Key's retry): a digest of
their content."""

import hashlib
import json


def fingerprint(content: object) -> str:
    """A stable digest of a request's content (JSON data), to tell a retry from a clashing request:
    the same content gives the same digest whatever the order of its keys."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()
