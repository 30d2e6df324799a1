-- Endpoint options: a rate limit (requests per second, per instance), ordered delivery per order,
-- custom headers, secret rotation (the previous secret keeps signing until it expires), and what
-- the automatic disabling needs.
ALTER TABLE endpoints
    ADD COLUMN rate_limit                  integer CHECK (rate_limit > 0),
    ADD COLUMN ordered                     boolean NOT NULL DEFAULT false,
    ADD COLUMN headers                     jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN previous_secret             text,
    ADD COLUMN previous_secret_expires_at  timestamptz,
    ADD COLUMN failing_since               timestamptz,
    ADD COLUMN disabled_reason             text;

-- Ordered endpoints: a message waits while an earlier one of the same order is still pending.
CREATE INDEX messages_pending_per_order ON messages (endpoint_id, order_id, id) WHERE status = 'pending';
-- The delivery log: per endpoint by time, per event, and the retention purge.
CREATE INDEX messages_endpoint_created ON messages (endpoint_id, created_at);
CREATE INDEX messages_event ON messages (event_id);
CREATE INDEX messages_created ON messages (created_at);
CREATE INDEX attempts_attempted ON attempts (attempted_at);
