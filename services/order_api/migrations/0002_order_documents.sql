-- The full order resource. Each order is stored whole as its published snapshot (`document`), with
-- the fields the list filters need copied into columns and indexed. The 0001 tables held only the
-- foundation's minimal orders and are replaced.
DROP TABLE line_items;
DROP TABLE orders;

CREATE SEQUENCE order_id_seq START WITH 1000000001;
-- Ids of objects inside orders: line items, transactions, fulfillments.
CREATE SEQUENCE object_id_seq START WITH 1000000001;

CREATE TABLE orders (
    id                       bigint PRIMARY KEY,
    order_number             bigint NOT NULL UNIQUE,
    token                    text NOT NULL UNIQUE,
    email                    text,
    currency                 char(3) NOT NULL,
    status                   text NOT NULL,
    financial_status         text NOT NULL,
    fulfillment_status       text,
    state                    text NOT NULL,        -- the Digital River view of the status
    fraud_state              text NOT NULL,
    customer_id              bigint,
    guest                    boolean NOT NULL,
    upstream_id              text UNIQUE,
    create_fingerprint       text,                 -- hash of the create request, to tell a retry from a clash
    checkout_id              text,
    application_id           text,
    locale                   text,
    customer_type            text,
    charge_type              text,
    subscription_id          text,
    browser_ip               text,
    skus                     text[] NOT NULL DEFAULT '{}',
    total_price              numeric(20, 4) NOT NULL,
    refunded_amount          numeric(20, 4) NOT NULL DEFAULT 0,
    request_to_be_forgotten  boolean NOT NULL DEFAULT false,
    anonymized               boolean NOT NULL DEFAULT false,
    created_at               timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL,
    processed_at             timestamptz NOT NULL,
    sequence                 integer NOT NULL,     -- per-order event sequence; also the ETag
    document                 jsonb NOT NULL
);

-- Keyset pagination walks the primary key; each common filter has an index ending in id, so a
-- filtered page is an index range scan, not a sort of everything that matches.
CREATE INDEX orders_status_id ON orders (status, id);
CREATE INDEX orders_financial_status_id ON orders (financial_status, id);
CREATE INDEX orders_fulfillment_status_id ON orders (fulfillment_status, id);
CREATE INDEX orders_state_id ON orders (state, id);
CREATE INDEX orders_email_id ON orders (email, id);
CREATE INDEX orders_customer_id ON orders (customer_id, id);
CREATE INDEX orders_checkout_id ON orders (checkout_id) WHERE checkout_id IS NOT NULL;
CREATE INDEX orders_created_at ON orders (created_at, id);
CREATE INDEX orders_updated_at ON orders (updated_at, id);
CREATE INDEX orders_processed_at ON orders (processed_at, id);
CREATE INDEX orders_skus ON orders USING gin (skus);
CREATE INDEX orders_guest_number ON orders (order_number) WHERE guest;

-- Read models fed by orders.ingest (and by orders that bring a new customer).
CREATE TABLE variants (
    id                 bigint PRIMARY KEY,
    product_id         bigint NOT NULL,
    title              text NOT NULL,
    variant_title      text,
    sku                text,
    vendor             text,
    price              numeric(20, 4) NOT NULL,
    currency           char(3) NOT NULL,
    grams              integer NOT NULL DEFAULT 0,
    requires_shipping  boolean NOT NULL DEFAULT true,
    taxable            boolean NOT NULL DEFAULT true,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Customers created here (from an order's new customer) take ids from a range of their own, far
-- from the customer service's.
CREATE SEQUENCE customer_id_seq START WITH 9000000001;

CREATE TABLE customers (
    id                 bigint PRIMARY KEY,
    email              text,
    first_name         text,
    last_name          text,
    phone              text,
    accepts_marketing  boolean NOT NULL DEFAULT false,
    state              text NOT NULL,          -- enabled: a registered account; disabled: made at checkout
    note               text,
    tags               text NOT NULL DEFAULT '',
    orders_count       integer NOT NULL DEFAULT 0,
    total_spent        numeric(20, 4) NOT NULL DEFAULT 0,
    last_order_id      bigint,
    last_order_name    text,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE INDEX customers_email ON customers (lower(email));
