"""cancellation_worker: processes cancellations and refunds, keeps the refunds ledger."""
