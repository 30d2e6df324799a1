-- Order numbers are the shop's human-facing numbers: #1001, #1002, ...
CREATE SEQUENCE order_number_seq START WITH 1001;

CREATE TABLE orders (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number          bigint NOT NULL UNIQUE DEFAULT nextval('order_number_seq'),
    email           text NOT NULL,
    currency        char(3) NOT NULL,
    subtotal_price  numeric(20, 4) NOT NULL CHECK (subtotal_price >= 0),
    total_price     numeric(20, 4) NOT NULL CHECK (total_price >= 0),
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed', 'cancelled')),
    -- Incremented by every change; each event carries it so consumers can drop stale facts.
    sequence        integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

CREATE TABLE line_items (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id  bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    position  smallint NOT NULL,
    title     text NOT NULL,
    price     numeric(20, 4) NOT NULL CHECK (price >= 0),
    quantity  integer NOT NULL CHECK (quantity > 0),
    UNIQUE (order_id, position)
);
