-- Endpoint operations (issue 12): statistics, Idempotency-Key on the admin API's POSTs, payload expunge.

-- Statistics: an endpoint's messages over a window, counted by status and searched for the last success
-- and failure from the index alone where the visibility map allows (stats_store.py). It replaces
-- messages_endpoint_created (same keys, which the delivery log reads), so the table keeps as many
-- indexes as before: no extra index write per message.
CREATE INDEX messages_endpoint_stats ON messages (endpoint_id, created_at) INCLUDE (status, delivered_at, attempts, id);
DROP INDEX IF EXISTS messages_endpoint_created;

-- Idempotency-Key records of the admin API's POSTs (shared/idempotency_keys.py): one row per
-- (API key's principal, Idempotency-Key); a row without a status is a request still in flight.
CREATE TABLE idempotency_keys (
    principal      text NOT NULL,          -- a digest of the API key, never the key itself
    key            text NOT NULL,
    fingerprint    text NOT NULL,          -- method, path, query and body of the first request
    status         smallint,               -- NULL while in flight
    headers        jsonb,
    body           bytea,
    locked_until   timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);

-- A settled message's payload deleted on an operator's request: the payload is emptied, and when and
-- by which API key (its key id, shared/access_tokens.py) is kept; ids, times, status and attempts stay.
ALTER TABLE messages ADD COLUMN payload_expunged_at timestamptz, ADD COLUMN payload_expunged_by text;
