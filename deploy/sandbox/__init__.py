"""Stand-ins for services outside the project, run in the local stack like the real ones would be:
the payment service (payments.py)."""
