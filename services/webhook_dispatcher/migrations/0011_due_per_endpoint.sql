-- The senders' claim reads each endpoint with room apart, its due messages oldest first (store.claim_due),
-- so that an endpoint at its concurrency, however large its backlog, costs a claim nothing. It replaces
-- messages_due (the same pending messages by time alone, which the claim walked through in full to
-- pass over a busy endpoint's): the table keeps as many indexes as before.
CREATE INDEX messages_due_per_endpoint ON messages (endpoint_id, next_attempt_at, id) WHERE status = 'pending';
DROP INDEX messages_due;
