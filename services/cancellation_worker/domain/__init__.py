"""The cancellation worker's rules, without I/O: the guest requests' state machine (requests.py), the
refund ledger's rules (ledger.py), what an order event asks of the ledger (plan.py) and the emails
customers get (notices.py). The money itself is shared/refund_math.py's."""
