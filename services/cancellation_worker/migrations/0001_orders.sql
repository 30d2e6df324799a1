-- The worker's own copy of what each order contains and cost: what a cancellation may refund.
CREATE TABLE orders (
    order_id       bigint PRIMARY KEY,
    currency       char(3) NOT NULL,
    total_price    numeric(20, 4) NOT NULL,
    line_items     jsonb NOT NULL,
    status         text NOT NULL,
    last_sequence  integer NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
