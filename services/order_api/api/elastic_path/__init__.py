"""The Elastic Path dialect (`/v2/orders/anonymize`, arriving with the erasure work): its routes are not
here yet, only how it shows an order's status (`status`)."""
