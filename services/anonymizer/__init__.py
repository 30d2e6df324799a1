"""anonymizer: erases customers' personal data from every service once an order may be forgotten."""
