"""The webhook dispatcher's operational events (topic webhooks.events): for operators' tooling and
operator endpoints (signed webhooks), never fanned out to subscribers."""

import uuid
from datetime import datetime
from typing import Final

from shared.orders import Snapshot

MESSAGE_EXHAUSTED: Final = "webhook.message.exhausted"
ENDPOINT_DISABLED: Final = "webhook.endpoint.disabled"
ENDPOINT_RECOVERED: Final = "webhook.endpoint.recovered"


class WebhookMessageExhaustedData(Snapshot):
    """A webhook message spent its retry schedule without a successful delivery."""

    message_id: int
    endpoint_id: uuid.UUID
    url: str
    event_id: uuid.UUID
    event_type: str
    order_id: str
    attempts: int
    last_response_status: int | None
    last_error: str | None


class WebhookEndpointDisabledData(Snapshot):
    """An endpoint was disabled: `gone` (it answered 410), `failing` (no success for the configured
    period) or `manual` (an operator)."""

    endpoint_id: uuid.UUID
    url: str
    reason: str
    failing_since: datetime | None  # UTC, set by the dispatcher


class WebhookEndpointRecoveredData(Snapshot):
    """An endpoint operators had been told was failing (disabled, or a message exhausted) delivered a
    message again."""

    endpoint_id: uuid.UUID
    url: str
    failure_reported_at: datetime  # UTC: when operators were first told of the failure
