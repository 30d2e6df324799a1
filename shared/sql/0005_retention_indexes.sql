-- Retention (shared/retention.py) finds its rows by age without scanning the tables: published outbox
-- rows by when they were sent, parked ones by when they were parked, processed events by when they
-- were processed (BRIN: rows arrive in that order, and it costs the consumers' inserts next to nothing).
CREATE INDEX outbox_sent_at ON outbox (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX outbox_dead_letters_parked_at ON outbox_dead_letters (parked_at);
CREATE INDEX processed_events_processed_at ON processed_events USING brin (processed_at);
