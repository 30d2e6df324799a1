"""JSON as the platform writes it (jsonb columns, webhook bodies): compact, money and times exact."""

import json
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any


def json_default(value: Any) -> str:
    """JSON for the values the json module does not write itself: money stays an exact decimal string."""
    if isinstance(value, Decimal | datetime | uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> str:
    return json.dumps(value, default=json_default, separators=(",", ":"))
