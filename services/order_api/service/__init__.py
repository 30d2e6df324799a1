"""order_api's use cases, and the only way in: every dialect's routes (api/), the ingest handlers
(handlers.py), the idempotency middleware and the background purge call these, so an order placed or
changed through any door follows the same rules and emits the same events.

- `orders`: placing, reading, listing and changing orders (OrderService);
- `refunds`: cancelling orders and refunding them, and waiting for a refund to settle (RefundService);
- `guest_requests`: guests' cancellation requests, handed to the cancellation worker (GuestRequests);
- `facts`: what other services report on orders.ingest: payments and refunds' answers, fulfilments,
  the cancellation worker's decisions, returns, the catalog, customers, cancellation reference data
  (FactService);
- `guards`: the HTTP guards' records: Idempotency-Keys, rate limits, their purge (HttpGuards);
- `ports`: what the use cases need from storage (store/ implements it on Postgres).

Each use case is one transaction: the change and its outbox event commit together. Every change is
refused (`order_too_large`) when its event would be larger than `max_event_bytes` (the
ORDER_API_MAX_EVENT_BYTES setting), before anything of it is stored: an event Kafka cannot take would
never be published.
"""
