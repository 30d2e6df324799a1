-- The anonymizer keeps no email: a keyed hash (HMAC-SHA256 with ANONYMIZER_EMAIL_HASH_KEY of the
-- trimmed, lower-cased address) finds a person's orders, and an anonymized order keeps neither.
-- Orders seen before this migration lose their email match until their next event (no release yet).
ALTER TABLE known_orders
    DROP COLUMN email,
    ADD COLUMN email_hash bytea,
    ADD COLUMN customer_id bigint,
    ADD COLUMN anonymized boolean NOT NULL DEFAULT false;
CREATE INDEX known_orders_email_hash ON known_orders (email_hash) WHERE email_hash IS NOT NULL;
CREATE INDEX known_orders_customer ON known_orders (customer_id) WHERE customer_id IS NOT NULL;

-- What someone asked to erase: a customer, a forget request, or one order (the Elastic Path route's
-- anonymization, recorded when its `order.anonymized` arrives). Its status follows its orders'.
CREATE TABLE erasure_requests (
    id            uuid PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('customer', 'forget', 'order')),
    email_hash    bytea,
    customer_id   bigint,
    status        text NOT NULL CHECK (status IN ('waiting', 'erasing', 'overdue', 'complete')),
    created_at    timestamptz NOT NULL,
    completed_at  timestamptz
);
CREATE INDEX erasure_requests_status ON erasure_requests (status, created_at, id);
CREATE INDEX erasure_requests_newest ON erasure_requests (created_at, id);

CREATE TABLE erasure_request_orders (
    request_id  uuid NOT NULL REFERENCES erasure_requests,
    order_id    bigint NOT NULL,
    PRIMARY KEY (request_id, order_id)
);
CREATE INDEX erasure_request_orders_order ON erasure_request_orders (order_id);

-- One erasure per order: the receipts it waits for (`services`, the configuration when it was
-- opened, so a later change of the setting does not move an open record's goal), its attempt and
-- deadline. `waiting` until `order.anonymized` arrives, then `erasing`; `overdue` once a deadline
-- passed with receipts missing (the request is re-sent); `complete` when every receipt is in.
CREATE TABLE order_erasures (
    order_id             bigint PRIMARY KEY,
    erasure_id           uuid NOT NULL UNIQUE,
    state                text NOT NULL CHECK (state IN ('waiting', 'erasing', 'overdue', 'complete')),
    services             text[] NOT NULL DEFAULT '{}',
    customer_id          bigint,
    anonymized_sequence  integer,
    attempt              integer NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    requested_at         timestamptz,
    deadline_at          timestamptz,
    completed_at         timestamptz
);
CREATE INDEX order_erasures_due ON order_erasures (deadline_at) WHERE state IN ('erasing', 'overdue');

-- Each service's receipt, once per erasure (a repeat answer to a re-sent request is not recorded
-- again): what it erased, by table.
CREATE TABLE erasure_receipts (
    erasure_id   uuid NOT NULL REFERENCES order_erasures (erasure_id),
    service      text NOT NULL,
    order_id     bigint NOT NULL,
    rows         jsonb NOT NULL,
    attempt      integer NOT NULL,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (erasure_id, service)
);
