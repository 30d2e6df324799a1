-- The order copy keeps the whole snapshot: what was captured and refunded, the pending refunds, the
-- customer to credit and the address to email.
ALTER TABLE orders ADD COLUMN snapshot jsonb;

-- Guest cancellation requests (one row per item) and their state machine.
CREATE TABLE cancellation_requests (
    request_id           bigint PRIMARY KEY,  -- assigned by order_api
    order_id             bigint NOT NULL,
    line_item_id         bigint NOT NULL,
    quantity             integer NOT NULL CHECK (quantity > 0),
    reason_id            bigint NOT NULL,
    cancellation_type    text NOT NULL CHECK (cancellation_type IN ('cancel', 'refund')),
    status               text NOT NULL CHECK (status IN ('waiting', 'approved', 'rejected', 'completed')),
    description          text,
    shipping_company_id  bigint,
    pickup_date          text,
    loyalty_money        boolean NOT NULL,
    iban_last4           text,
    refund_method        text CHECK (refund_method IN ('original', 'bank_transfer', 'loyalty_money')),
    submission_id        uuid NOT NULL,  -- the cancellation.submitted event it came with
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL
);
CREATE INDEX cancellation_requests_by_order ON cancellation_requests (order_id);
-- The operator's list: newest first, keyset on (created_at, request_id).
CREATE INDEX cancellation_requests_newest ON cancellation_requests (created_at DESC, request_id DESC);
CREATE INDEX cancellation_requests_by_status ON cancellation_requests (status, created_at DESC, request_id DESC);

-- A submission's bank account: only here (and in a bank-transfer command), never in an event.
CREATE TABLE bank_accounts (
    submission_id  uuid PRIMARY KEY,
    order_id       bigint NOT NULL,
    iban           text NOT NULL,
    holder_name    text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- The refund ledger, append-only: a `requested` entry is an attempt (its id is the idempotency key
-- sent to the payment service), a `succeeded` or `failed` entry with the same key settles it.
CREATE TABLE ledger_entries (
    position         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entry_id         uuid NOT NULL UNIQUE,
    idempotency_key  uuid NOT NULL,
    entry_type       text NOT NULL CHECK (entry_type IN ('requested', 'succeeded', 'failed')),
    order_id         bigint NOT NULL,
    refund_id        bigint,
    kind             text NOT NULL CHECK (kind IN ('refund', 'void')),
    method           text NOT NULL CHECK (method IN ('original', 'bank_transfer', 'loyalty_money')),
    amount           numeric(20, 4) NOT NULL CHECK (amount >= 0),
    currency         char(3) NOT NULL,
    error            text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((entry_type = 'requested') = (entry_id = idempotency_key))
);
-- One request and at most one settlement per key.
CREATE UNIQUE INDEX ledger_entries_one_request ON ledger_entries (idempotency_key) WHERE entry_type = 'requested';
CREATE UNIQUE INDEX ledger_entries_one_settlement ON ledger_entries (idempotency_key) WHERE entry_type <> 'requested';
CREATE INDEX ledger_entries_by_order ON ledger_entries (order_id, position);

CREATE FUNCTION ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the refund ledger is append-only: % refused', TG_OP;
END;
$$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only();

-- Loyalty money per customer: each credit with the balance after it; the balances kept current.
CREATE TABLE loyalty_balances (
    customer_id  bigint NOT NULL,
    currency     char(3) NOT NULL,
    balance      numeric(20, 4) NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, currency)
);
CREATE TABLE loyalty_entries (
    position         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id      bigint NOT NULL,
    order_id         bigint NOT NULL,
    ledger_entry_id  uuid NOT NULL UNIQUE,  -- the refund attempt it paid
    amount           numeric(20, 4) NOT NULL,
    currency         char(3) NOT NULL,
    balance          numeric(20, 4) NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX loyalty_entries_by_customer ON loyalty_entries (customer_id, position);

-- Customers' emails, one per Message-ID, sent by the mail sender (shared/work_queue.py's shape).
CREATE TABLE notifications (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    message_id       text NOT NULL UNIQUE,
    kind             text NOT NULL,
    order_id         bigint NOT NULL,
    recipient        text NOT NULL,
    subject          text NOT NULL,
    body             text NOT NULL,
    -- Set just before a send starts, cleared when it fails knowingly: a claim that finds it set knows
    -- a send began whose outcome nobody recorded, and never sends again (at most once).
    sending_since    timestamptz,
    last_error       text,
    sent_at          timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'pending';

-- Reference data, owned here and published as facts.
CREATE TABLE cancellation_reasons (
    id          bigint PRIMARY KEY,
    name        text NOT NULL,
    active      boolean NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE shipping_companies (
    id           bigint PRIMARY KEY,
    name         text NOT NULL,
    easy_return  boolean NOT NULL,
    active       boolean NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
