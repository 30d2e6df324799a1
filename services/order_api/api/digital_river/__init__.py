"""The Digital River dialect: `/orders...`, camelCase JSON, cursor pagination.

Choices where the document is silent or does not fit this platform, so clients can rely on them:
- Order ids are the platform's order numbers, the same in every dialect: `1000000123`, not `ord_...`.
  Customer ids are numbers too (no `cus_` prefix).
- Amounts are JSON strings holding exact decimals at the currency's precision (`"1180.26"`), never
  floats; requests may send numbers or strings. `currency` is answered in lower case as the document
  shows it (`usd`); requests and the `currency` filter take either case.
- There is no checkout service here, so creating an order names what it is for: `items`, each a
  catalog variant (`variantId`; name, SKU and price come from the catalog) or a custom item (`name`
  and `price`, optionally `skuId`), plus optional order-level `taxLines` and a `shippingChoice`.
- A create repeated with the same `upstreamId` and the same content answers 200 with the order the
  first one made (nothing new is created or published); with other content, 409 Conflict.
- Lists are newest first (id descending). The cursors are order ids and need not name an existing
  order. `endingBefore` answers the page just before the cursor, still newest first, and `hasMore`
  then says whether there are newer orders still.
- Tax details: an item's tax is the order's tax lines split across the taxable items in proportion
  to their amounts (the last taxable item takes the rounding remainder, so they add up exactly).
- `liveMode` is true: this platform has no test mode. `totalFees` and `totalDuty` are zero (it
  charges neither); `cancelledAmount` is what voided payments released.
"""
