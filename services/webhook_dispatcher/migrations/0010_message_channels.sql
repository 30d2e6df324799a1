-- The channels of the event a message carries (shared/channels.py), as the fan-out chose by: shown with
-- the message and filtered on when messages are listed (Svix's message channels). Messages written
-- before carry none.
ALTER TABLE messages ADD COLUMN channels text[] NOT NULL DEFAULT '{}';
