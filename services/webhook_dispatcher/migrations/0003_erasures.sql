-- Erasure of anonymized orders (issue 10 design, section 5). `order.anonymized` (orders.events) and
-- `erasure.requested` (anonymization.events) come on different topics in no fixed order; whichever is
-- second rewrites the order's stored messages with the masked snapshot kept here.

-- Each anonymized order's masked snapshot (the `order` of its `order.anonymized` data, as published),
-- newest sequence kept. Holds no personal data; also masks what is fanned out of the order later.
CREATE TABLE anonymized_orders (
    order_id     text PRIMARY KEY,
    sequence     bigint NOT NULL,
    snapshot     bytea NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);

-- An erasure requested before its order's `order.anonymized` arrived: the request (ids, attempt, times;
-- no personal data), answered once the snapshot is in. A re-sent request replaces an older attempt.
CREATE TABLE erasures_waiting (
    order_id       text PRIMARY KEY,
    request        jsonb NOT NULL,
    waiting_since  timestamptz NOT NULL DEFAULT now()
);

-- Every message of an order, delivered or not (the erasure's rewrite).
CREATE INDEX messages_order ON messages (order_id);
