-- Digital River's `state` is a view of the order's own statuses: Postgres now computes it from the
-- stored status, fraud state, financial and fulfillment status, so the store writes no rule of a
-- dialect's (the same mapping shows it in answers: api/digital_river/state.py, and a test holds the
-- two together). The column keeps its index for the `state` filter.
ALTER TABLE orders DROP COLUMN state;
ALTER TABLE orders ADD COLUMN state text NOT NULL GENERATED ALWAYS AS (
    CASE WHEN status = 'cancelled' THEN 'cancelled'
         WHEN fraud_state = 'blocked' THEN 'blocked'
         WHEN fraud_state = 'review_opened' THEN 'in_review'
         WHEN financial_status IN ('refunded', 'partially_refunded') THEN 'returned'
         WHEN fulfillment_status = 'fulfilled' THEN
              CASE WHEN financial_status = 'paid' THEN 'complete' ELSE 'fulfilled' END
         WHEN financial_status IN ('pending', 'partially_paid') THEN 'pending_payment'
         ELSE 'accepted' END
) STORED;
CREATE INDEX orders_state_id ON orders (state, id);
