-- Customer erasures waiting for the customer's orders (customer.erase_requested, design section 4):
-- the customer's record is masked once none of its orders is still to be anonymized; until then the
-- request waits here, and the anonymization of its last order masks the record and deletes the row.
CREATE TABLE customer_erasures (
    customer_id   bigint PRIMARY KEY,
    request_id    uuid NOT NULL,
    requested_at  timestamptz NOT NULL
);
