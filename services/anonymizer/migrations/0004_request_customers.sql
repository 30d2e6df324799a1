-- The customer records a customer erasure asked order_api to erase (customer.erase_requested), and
-- order_api's answer (customer.erased): when, and the records masked by table. A request is complete
-- only when every one of them is erased too (NULL erased_at: still waiting).
CREATE TABLE erasure_request_customers (
    request_id   uuid NOT NULL REFERENCES erasure_requests,
    customer_id  bigint NOT NULL,
    erased_at    timestamptz,
    rows         jsonb,
    PRIMARY KEY (request_id, customer_id),
    CHECK ((erased_at IS NULL) = (rows IS NULL))
);
