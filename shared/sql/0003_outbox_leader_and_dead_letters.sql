-- The outbox relay's leadership: one row, held under a lease its leader renews. It lives in the
-- service's own schema, so only the service's role can take it (an advisory lock's keys are shared by
-- every role of the database, so another service could take the lock and stop this relay).
CREATE TABLE outbox_leader (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    holder       text,
    lease_until  timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO outbox_leader DEFAULT VALUES;

-- Rows the relay can never publish (Kafka refuses them for good, e.g. over its size limit), moved
-- here with the error instead of blocking every later event behind them.
CREATE TABLE outbox_dead_letters (
    id          bigint PRIMARY KEY,  -- the outbox row's id
    event_id    uuid NOT NULL UNIQUE,
    topic       text NOT NULL,
    key         text NOT NULL,
    headers     jsonb NOT NULL,
    body        bytea NOT NULL,
    created_at  timestamptz NOT NULL,
    parked_at   timestamptz NOT NULL DEFAULT now(),
    error       text NOT NULL
);
