-- Idempotent consumer: an event's effect and its row here commit together, so a redelivered
-- event is recognised and skipped.
CREATE TABLE processed_events (
    event_id      uuid PRIMARY KEY,
    event_type    text NOT NULL,
    topic         text NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset  bigint NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now()
);
