"""The Akinon dialect: a guest's own order by number and email, `POST /users/orders/anonymous/`, and the
guest's cancellation requests, `POST .../cancellation_requests/` and `.../bulk_cancellation_requests/`.

Public (no API key): the order number and the exact email the order was placed with are the proof.
Only guest orders (placed without a customer account) are found. Everything else — a registered
customer's order, a wrong email, a wrong, malformed or missing number — gets the one same answer
(status, body, headers), after the same work (one rate-limit count, one indexed lookup matching
number, email and guest together, no document read), so neither the answer nor its time tells which
it was. Attempts are limited per client IP and per order number from that client
(`ORDER_API_GUEST_LOOKUPS_PER_IP` / `_PER_NUMBER_AND_CLIENT` per `_GUEST_LOOKUP_WINDOW_SECONDS`),
across instances: one client's guesses at a number do not lock anyone else out of it. Behind a proxy,
set uvicorn's `FORWARDED_ALLOW_IPS` to the proxies' addresses, and only theirs, so the client's address
is the one counted (a client trusted there can name any address and so escape the limits).

The cancellation requests are public and rate-limited the same way (they count against the same
limits), and a miss gets the lookup's very answer. Each rule refuses with its own code: 409
`cancellation_request_100_1` (the document's: the item has a request waiting), and 422
`cancellation_request_100_2` (no such item in the order), `_100_3` (quantity not from 1 to what is still
cancellable), `_100_4` (no such active reason), `_100_5` (a `refund` without a shipping company),
`_100_6` (not an active easy-return company), `_100_7` (an IBAN over 34 characters), `_100_8` (an IBAN
failing mod-97), `_100_9` (an IBAN without its holder's name, or a name without an IBAN), `_100_10`
(a holder's name over 255 characters), each naming its field (`cancel_order_items[i].<field>` in a bulk
request, which is accepted whole or not at all). The answer (201) shows each request `waiting`, and of
an IBAN only its last four characters (`iban_last4`).

Choices where the document is silent:
- `number` is the order number (`1001`; Haravan's `#1001` is accepted too).
- Not found is 404 with a problem document (`code` `order_not_found`): the document defines no error
  body for this route (its only error code, `cancellation_request_100_1`, is the cancellations'),
  so the platform's problem shape is kept; a malformed email or body is the usual 422.
- Fields this platform has nothing behind are null (`invoice_*`, `e_archive_url`, `bin_number`,
  `bank`, `has_gift_box`, `gift_box_note`); payments are not split into installments here, so
  `installment_count` is 1 and `installment_interest_amount` 0.
- Money and flags come from the order's refunds and line items: `refund_amount` is what refunds paid
  back (settled ones; a pending refund has paid nothing yet), `discount_refund_amount` and
  `shipping_refund_amount` their lines' discounts and their shipping; `is_cancellable` says a guest
  could ask to cancel some unit (not shipped, cancelled, refunded, or waiting on a request),
  `is_refundable` that captured money is left to refund and some unit could be sent back;
  `is_cancelled` that the order as a whole is cancelled.
"""
