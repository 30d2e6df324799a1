-- Retention (ANONYMIZER_RETENTION_DAYS): since when order_api says each order may be anonymized (its
-- snapshot's eligible_since; NULL while it may not be, or once deleted), and the index the sweep reads
-- the orders due from, oldest first.
ALTER TABLE known_orders ADD COLUMN eligible_since timestamptz;
CREATE INDEX known_orders_retention ON known_orders (eligible_since, order_id)
    WHERE eligible_since IS NOT NULL AND NOT anonymized;

-- The sweep records its requests as kind `retention`.
ALTER TABLE erasure_requests
    DROP CONSTRAINT erasure_requests_kind_check,
    ADD CONSTRAINT erasure_requests_kind_check CHECK (kind IN ('customer', 'forget', 'order', 'retention'));
