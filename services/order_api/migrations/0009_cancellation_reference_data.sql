-- order_api's copies of the cancellation reference data (fed by `cancellation.reason.upserted` and
-- `shipping_company.upserted` facts on orders.ingest), so it checks a guest's cancellation request at
-- once: the reason must exist, a return must name an active easy-return shipping company.
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
