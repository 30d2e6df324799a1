-- The common counts (Haravan's count.json by status, financial and fulfillment status, and their
-- combinations) read counters instead of the orders: at a million orders counting the index took 30 ms
-- and more, summing the counters of the matching buckets takes well under one.
--
-- Every change of an order's bucket (its status, financial status, fulfillment status) is recorded by
-- Postgres itself, in the transaction of the change, whichever statement made it: a row of +1 for the
-- bucket it enters and -1 for the one it leaves in `order_count_changes`. That table is insert-only,
-- with no index, so concurrent creates never wait for each other on a counter row. A background loop
-- (workers.py) folds the changes into `order_counts`, one row per bucket, in one statement; a count
-- sums both tables, so it is exact in every snapshot, folded or not (store/order_counts.py).
CREATE TABLE order_counts (
    status              text NOT NULL,
    financial_status    text NOT NULL,
    fulfillment_status  text,
    orders              bigint NOT NULL,
    UNIQUE NULLS NOT DISTINCT (status, financial_status, fulfillment_status)
);

CREATE TABLE order_count_changes (
    status              text NOT NULL,
    financial_status    text NOT NULL,
    fulfillment_status  text,
    orders              integer NOT NULL
);

-- The tables are named without their schema: the function keeps the search path it was created with,
-- so any role's statement on orders (the service's, an operator's, a benchmark's) records its changes here.
CREATE FUNCTION count_order_change() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO order_count_changes VALUES (NEW.status, NEW.financial_status, NEW.fulfillment_status, 1);
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO order_count_changes VALUES (OLD.status, OLD.financial_status, OLD.fulfillment_status, -1);
    ELSE
        INSERT INTO order_count_changes VALUES (OLD.status, OLD.financial_status, OLD.fulfillment_status, -1),
                                               (NEW.status, NEW.financial_status, NEW.fulfillment_status, 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION forget_order_counts() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    TRUNCATE order_counts, order_count_changes;
    RETURN NULL;
END
$$;

-- No concurrent change may fall between the counters' first values and their first change: orders is
-- locked against writes (reads go on) until this migration commits, a pause of a second or two at a
-- million orders, so the counts below and the changes the triggers record after them add up exactly.
LOCK TABLE orders IN SHARE ROW EXCLUSIVE MODE;

CREATE TRIGGER orders_counted AFTER INSERT OR DELETE ON orders
    FOR EACH ROW EXECUTE FUNCTION count_order_change();
-- An update that keeps the order in its bucket (most of them) costs nothing here.
CREATE TRIGGER orders_recounted AFTER UPDATE ON orders
    FOR EACH ROW
    WHEN ((OLD.status, OLD.financial_status, OLD.fulfillment_status)
          IS DISTINCT FROM (NEW.status, NEW.financial_status, NEW.fulfillment_status))
    EXECUTE FUNCTION count_order_change();
CREATE TRIGGER orders_truncated AFTER TRUNCATE ON orders
    FOR EACH STATEMENT EXECUTE FUNCTION forget_order_counts();

INSERT INTO order_counts (status, financial_status, fulfillment_status, orders)
SELECT status, financial_status, fulfillment_status, count(*) FROM orders GROUP BY 1, 2, 3;
