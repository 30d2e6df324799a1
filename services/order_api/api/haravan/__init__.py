"""The Haravan (Shopify-style) dialect: `/com/orders...json`.

Choices where the document is silent, so clients can rely on them:
- Lists are newest first (id descending) and paged with `page` (offset); with `since_id` they run
  oldest first from that id, which is the cheap way to walk every order.
- Times without a UTC offset (the documented `2008-12-31 03:00` form) are taken as UTC.
- `DELETE` answers 200 with `{}`, as Shopify does.
- Keys the document shows that this platform has nothing behind are answered honestly: `cart_token`,
  `checkout_token`, `landing_site`, `referring_site` ... are null, `total_price_usd` is the total only
  for USD orders (no exchange rates here), `gateway` is the first transaction's, `processing_method`
  is "" (this platform records payments, it processes none).
"""
