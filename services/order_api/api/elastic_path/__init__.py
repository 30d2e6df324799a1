"""The Elastic Path dialect: `POST /v2/orders/anonymize` and `GET /v2/orders/{id}` (routes), the order's
shape (responses, status) and Elastic Path's error shapes (errors)."""
