-- The order a remembered answer is about (from the request's path or the answer's Location), so that
-- the order's erasure deletes its stored answers; NULL for answers about no single order.
ALTER TABLE idempotency_keys ADD COLUMN order_id bigint;
CREATE INDEX idempotency_keys_order ON idempotency_keys (order_id) WHERE order_id IS NOT NULL;
