-- Channels an endpoint listens to (shared/channels.py): empty, every event of its types; otherwise
-- only those carrying at least one of them. Existing endpoints keep receiving everything of their types.
ALTER TABLE endpoints ADD COLUMN channels text[] NOT NULL DEFAULT '{}';
