"""order_api: the ingest service. It owns the orders and publishes every change to `orders.events`."""
