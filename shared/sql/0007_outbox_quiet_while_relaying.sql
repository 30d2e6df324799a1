-- A writer NOTIFYs the relay only when the relay is not relaying already. Each NOTIFY wakes every
-- listening backend of the database, whatever its channel (each service's relay, the dispatcher's queue),
-- and queues the writer's commit on the database's one notification queue; a relay that relays passes
-- every PASS_SPACING_SECONDS anyway (shared/outbox.py), so a NOTIFY per commit then only costs.
--
-- The leader says it relays on its lease's row, which only the service's role can write; a flag whose
-- lease ran out (a leader that died relaying) counts for nothing. The relay stops relaying by clearing
-- it, then relays on until every transaction older than the clearing has ended (a writer that read the
-- flag set may commit its rows after the relay's last pass), and then passes once more.
ALTER TABLE outbox_leader ADD COLUMN relaying boolean NOT NULL DEFAULT false;

-- The function reads its own schema's lease whatever the writer's search path (`FROM CURRENT`: the
-- schema this migration runs in).
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM outbox_leader WHERE relaying AND lease_until > now()) THEN
        PERFORM pg_notify(TG_TABLE_SCHEMA || '.outbox', '');
    END IF;
    RETURN NULL;
END;
$$;
