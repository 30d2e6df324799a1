-- Whose personal data each order holds, so an erasure request can be matched to its orders later.
CREATE TABLE known_orders (
    order_id       bigint PRIMARY KEY,
    email          text,
    last_sequence  integer NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Append-only record of every order fact the anonymizer acted on: the audit trail erasure needs.
CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id     bigint NOT NULL,
    event_id     uuid NOT NULL,
    event_type   text NOT NULL,
    sequence     integer,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_order ON audit_log (order_id);
