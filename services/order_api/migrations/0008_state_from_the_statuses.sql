-- Digital River's `state` is a view of the order's own statuses: Postgres now computes it from the
-- stored status, fraud state, financial and fulfillment status whenever a row is written, so the store
-- writes no rule of a dialect's. The same mapping shows it in answers (api/digital_river/state.py); a
-- test holds the two together (tests/integration/test_digital_river_state_column.py). A trigger rather
-- than a generated column: an instance of the previous version, still writing `state` itself during a
-- rolling deploy, keeps working (its value is replaced by the same one), and the table is not rewritten.
CREATE FUNCTION digital_river_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.state := CASE
        WHEN NEW.status = 'cancelled' THEN 'cancelled'
        WHEN NEW.fraud_state = 'blocked' THEN 'blocked'
        WHEN NEW.fraud_state = 'review_opened' THEN 'in_review'
        WHEN NEW.financial_status IN ('refunded', 'partially_refunded') THEN 'returned'
        WHEN NEW.fulfillment_status = 'fulfilled' THEN
             CASE WHEN NEW.financial_status = 'paid' THEN 'complete' ELSE 'fulfilled' END
        WHEN NEW.financial_status IN ('pending', 'partially_paid') THEN 'pending_payment'
        ELSE 'accepted' END;
    RETURN NEW;
END
$$;

CREATE TRIGGER orders_state BEFORE INSERT OR UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION digital_river_state();
