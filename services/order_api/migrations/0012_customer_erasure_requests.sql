-- Every erasure request waiting on a customer's record, not only the first: when the record is
-- masked, order_api answers each of them (`customer.erased` names them all), so a second request made
-- while the first waits completes too.
ALTER TABLE customer_erasures
    DROP CONSTRAINT customer_erasures_pkey,
    ADD PRIMARY KEY (customer_id, request_id);
