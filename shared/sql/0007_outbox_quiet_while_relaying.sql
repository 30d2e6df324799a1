-- A writer NOTIFYs the relay only when the relay is not relaying already. Each NOTIFY wakes every
-- listening backend of the database, whatever its channel (each service's relay, the dispatcher's queue),
-- and costs the writer's commit a turn on the database's one notification queue; a relay that relays
-- passes every PASS_SPACING_SECONDS anyway (shared/outbox.py), so a NOTIFY per commit only costs.
--
-- Two advisory locks per schema (the two-key form, apart from the migrations' one-key locks), keyed by
-- hashtext(schema), each only ever tried, never waited for, so that no one holding them can stall the
-- relay or a writer (any role of the database can take an advisory lock; one that does can at worst make
-- the relay wait for its poll interval, as with no NOTIFY at all):
--   7001, "relaying": the relay holds it while it relays; a writer that finds it held sends no NOTIFY;
--   7002, "gate": a writer holds it shared until its transaction ends, so the relay stops relaying only
--         once no writer that may have sent no NOTIFY is uncommitted, then passes once more; a writer that
--         cannot take it NOTIFYs.
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    key integer := hashtext(TG_TABLE_SCHEMA);
BEGIN
    IF pg_try_advisory_xact_lock_shared(7002, key) THEN
        IF NOT pg_try_advisory_lock_shared(7001, key) THEN
            RETURN NULL;  -- the relay relays: its next pass takes this transaction's rows
        END IF;
        PERFORM pg_advisory_unlock_shared(7001, key);
    END IF;
    PERFORM pg_notify(TG_TABLE_SCHEMA || '.outbox', '');
    RETURN NULL;
END;
$$;

-- The relay of the schema in the search path starts relaying, if it can: writers then send no NOTIFY.
CREATE FUNCTION outbox_start_relaying() RETURNS boolean LANGUAGE sql AS $$
    SELECT pg_try_advisory_lock(7001, hashtext(current_schema()));
$$;

-- The relay stops relaying, unless a writer that may have sent no NOTIFY is still uncommitted (false: it
-- goes on relaying). Writers after it NOTIFY again; the relay then passes once more, for the rows of
-- those before it.
CREATE FUNCTION outbox_stop_relaying() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    key integer := hashtext(current_schema());
BEGIN
    IF NOT pg_try_advisory_lock(7002, key) THEN
        RETURN false;
    END IF;
    PERFORM pg_advisory_unlock(7001, key);
    PERFORM pg_advisory_unlock(7002, key);
    RETURN true;
END;
$$;

-- The relay stops relaying at once, as it stops leading: a row whose writer sent no NOTIFY meanwhile
-- waits for the first pass of the next leader.
CREATE FUNCTION outbox_quit_relaying() RETURNS void LANGUAGE sql AS $$
    SELECT pg_advisory_unlock(7001, hashtext(current_schema()));
$$;
