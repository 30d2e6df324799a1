-- Idempotency-Key on POSTs: one row per (API key, Idempotency-Key). A row without a status is a
-- request still in flight; its lease lets another request take the key over if the instance died.
-- Shared by every instance, so a retry that lands elsewhere still replays the first answer.
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

-- Fixed-window request counters (guest lookups per client IP and per order number), shared by every
-- instance so the limit holds however many there are.
CREATE TABLE rate_limit_windows (
    bucket        text NOT NULL,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    hits          integer NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX rate_limit_windows_window_end ON rate_limit_windows (window_end);
