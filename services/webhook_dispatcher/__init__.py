"""webhook_dispatcher: fans events out to subscribers' HTTP endpoints, signed, retried, logged."""
