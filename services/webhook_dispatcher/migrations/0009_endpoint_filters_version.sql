-- The fan-out keeps the endpoints' filters in memory (fan_out.py) and checks, in the very statement that
-- writes a transaction's messages, that they are still the current ones: every change to what it reads
-- of the endpoints (which exist, enabled, operator or not, event types, channels) counts up this version.
CREATE TABLE endpoint_filters_version (
    single boolean PRIMARY KEY DEFAULT true CHECK (single),
    version bigint NOT NULL DEFAULT 0
);
INSERT INTO endpoint_filters_version DEFAULT VALUES;

CREATE FUNCTION count_endpoint_filters_change() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE endpoint_filters_version SET version = version + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER endpoints_added_or_removed AFTER INSERT OR DELETE OR TRUNCATE ON endpoints
    FOR EACH STATEMENT EXECUTE FUNCTION count_endpoint_filters_change();
-- Delivery bookkeeping (failing streaks, reports) changes no filter and costs nothing here.
CREATE TRIGGER endpoints_filters_changed AFTER UPDATE ON endpoints
    FOR EACH ROW
    WHEN ((OLD.enabled, OLD.operational, OLD.event_types, OLD.channels)
          IS DISTINCT FROM (NEW.enabled, NEW.operational, NEW.event_types, NEW.channels))
    EXECUTE FUNCTION count_endpoint_filters_change();
