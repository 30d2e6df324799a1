-- Subscribers' endpoints. An empty event_types array means every event type.
CREATE TABLE endpoints (
    id           uuid PRIMARY KEY,
    url          text NOT NULL,
    description  text NOT NULL DEFAULT '',
    event_types  text[] NOT NULL DEFAULT '{}',
    secret       text NOT NULL,
    enabled      boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- One message per (endpoint, event): written in the same transaction as the processed-event record,
-- so a crash neither loses nor doubles a fan-out.
CREATE TABLE messages (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id      uuid NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    event_id         uuid NOT NULL,
    event_type       text NOT NULL,
    order_id         text NOT NULL,
    correlation_id   text,
    payload          bytea NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    UNIQUE (endpoint_id, event_id)
);

-- The senders' claim: due pending messages, oldest first.
CREATE INDEX messages_due ON messages (next_attempt_at) WHERE status = 'pending';

-- Every delivery attempt, for the subscriber-facing log.
CREATE TABLE attempts (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id        bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    attempted_at      timestamptz NOT NULL DEFAULT now(),
    response_status   integer,
    latency_ms        integer NOT NULL,
    error             text,
    response_excerpt  text
);
CREATE INDEX attempts_message ON attempts (message_id);
