-- An order's erasure deletes its bank accounts and masks its emails (store/erasure.py): found by order,
-- without reading either whole table once per erased order.
CREATE INDEX bank_accounts_by_order ON bank_accounts (order_id);
CREATE INDEX notifications_by_order ON notifications (order_id);
