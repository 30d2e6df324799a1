-- The guest lookup now reads an order by its number whatever its kind (through the unique index on
-- order_number), so that the time it takes does not tell guest orders from registered customers'.
-- The partial index for guest orders only is no longer used.
DROP INDEX orders_guest_number;
