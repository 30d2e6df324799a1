"""The Haravan (Shopify-style) dialect: `/com/orders...json`, and the order's cancel and refunds
(`cancel.json`, `refunds.json`, `refunds/calculate.json`, `refunds/{id}.json`) as Shopify has them.

Choices where the document is silent, so clients can rely on them:
- Lists are newest first (id descending) and paged with `page` (offset); with `since_id` they run
  oldest first from that id, which is the cheap way to walk every order.
- Times without a UTC offset (the documented `2008-12-31 03:00` form) are taken as UTC.
- `DELETE` answers 200 with `{}`, as Shopify does.
- Errors carry Shopify's `errors` (attribute -> messages, or a message) beside the problem document's
  members (errors.py), so Shopify-style clients parse them; an update may send the whole order back as
  read (updates.py).
- A cancel takes its parameters from the body or from the query (Shopify clients post them there). Its
  refund, like a refund's, is pending until the payment service pays it back; `Prefer: wait=N` waits
  for that (at most 30 s). `refunds.json` answers the refund; the order's `refunds` show each with its
  lines (each with its line item), its transactions, and its shipping as an `order_adjustments` entry.
- Keys the document shows that this platform has nothing behind are answered honestly: `cart_token`,
  `checkout_token`, `landing_site`, `referring_site` ... are null, `total_price_usd` is the total only
  for USD orders (no exchange rates here), `gateway` is the first transaction's, `processing_method`
  is "" (this platform records payments, it processes none).
"""
