-- An order's erasure deletes its published rows (their bodies hold its snapshots as they were): found
-- by key (the order id), without a scan of the whole outbox.
CREATE INDEX outbox_key ON outbox (key);
CREATE INDEX outbox_dead_letters_key ON outbox_dead_letters (key);
