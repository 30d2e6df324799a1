"""Pure order rules, one idea per module: money (`money`), what an order may hold (`limits`), building
an order from a draft (`building`, `tags`, `customers`), payments (`payments`), fulfilments
(`fulfillments`), changes after creation (`changes`), refunds on the one refund math of
shared/refund_math.py (`refunds`), cancelling orders and units (`cancellation`), guests' cancellation
requests (`guest_requests`), tax allocation (`taxes`), and the value types the service and the store exchange (`stored`,
`queries`, `http_guards`); `errors` says how a rule refuses.

No I/O and no framework: what the rules need from storage (catalog variants, the customer, fresh
ids) is passed in. How a dialect shows an order (Digital River's `state`, Elastic Path's status
triple) is the dialect's own, in api/.
"""
