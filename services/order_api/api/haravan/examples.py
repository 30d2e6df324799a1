"""The document's request examples, shown in /docs."""

from typing import Any, Final

# The document's request examples, shown in /docs.
_IPOD: Final = {"variant_id": 447654529, "quantity": 1}
CREATE_EXAMPLES: Final[dict[str, Any]] = {
    "variant_only": {
        "summary": "A simple order with only a product variant id",
        "value": {"order": {"line_items": [_IPOD]}},
    },
    "fulfilled": {
        "summary": "A simple fulfilled order (receipts are accepted; this platform sends no email)",
        "value": {"order": {"email": "foo@example.com", "fulfillment_status": "fulfilled", "line_items": [_IPOD]}},
    },
    "comprehensive": {
        "summary": "A more comprehensive order",
        "value": {
            "order": {
                "line_items": [{"title": "Big Brown Bear Boots", "price": 74.99, "grams": "1300", "quantity": 3}],
                "tax_lines": [{"price": 13.5, "rate": 0.06, "title": "State tax"}],
                "transactions": [{"kind": "sale", "status": "success", "amount": 238.47}],
                "total_tax": 13.5,
                "currency": "EUR",
            }
        },
    },
    "existing_customer": {
        "summary": "A pending order with an existing customer",
        "value": {"order": {"line_items": [_IPOD], "customer": {"id": 207119551}, "financial_status": "pending"}},
    },
    "new_customer": {
        "summary": "A partially paid order with a new customer",
        "value": {
            "order": {
                "line_items": [_IPOD],
                "customer": {"first_name": "Paul", "last_name": "Norman", "email": "paul.norman@example.com"},
                "email": "jane@example.com",
                "transactions": [{"kind": "authorization", "status": "success", "amount": 50.0}],
                "financial_status": "partially_paid",
            }
        },
    },
}
UPDATE_EXAMPLES: Final[dict[str, Any]] = {
    "note": {"summary": "Add a note", "value": {"order": {"note": "Customer contacted us about a custom engraving"}}},
    "note_attributes": {
        "summary": "Set note attributes",
        "value": {"order": {"note_attributes": [{"name": "colour", "value": "red"}]}},
    },
    "email": {"summary": "Change the email", "value": {"order": {"email": "a-different@email.com"}}},
    "marketing": {"summary": "The buyer accepts marketing", "value": {"order": {"buyer_accepts_marketing": True}}},
    "metafield": {
        "summary": "Add a metafield",
        "value": {"order": {"metafields": [{"key": "new", "value": "newvalue", "namespace": "global"}]}},
    },
    "remove_customer": {"summary": "Remove the customer", "value": {"order": {"customer": None}}},
}
