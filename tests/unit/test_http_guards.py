"""order_api's HTTP guards in memory, no I/O: the streamed body limit, JSON negotiation, what the
Idempotency-Key middleware refuses or passes by before touching the database, how it tells requests
apart, and the Akinon translation of an order."""

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fastapi import Request
from starlette.types import Message

from services.order_api.api import idempotency
from services.order_api.api.akinon.responses import akinon_order
from services.order_api.api.contract import negotiate
from services.order_api.settings import OrderApiSettings
from shared.auth import AuthenticationMiddleware, KeyRing
from shared.body_limit import BodyLimitMiddleware
from shared.idempotency import request_fingerprint
from shared.orders import (
    Fulfillment,
    FulfillmentLine,
    NameValue,
    Refund,
    RefundLine,
    ShippingLine,
    TaxLine,
    Transaction,
    TransactionKind,
)
from shared.problems import Problem
from tests.support.asgi import Exchange, http_scope, reading_app
from tests.support.orders import sample_order

# ---- body limit -------------------------------------------------------------------------------------


async def test_a_streamed_body_is_refused_as_soon_as_it_passes_the_limit_and_read_no_further() -> None:
    exchange = Exchange([b"x" * 400] * 10)  # 4000 bytes, no Content-Length
    await exchange.run(BodyLimitMiddleware(reading_app, max_bytes=1000, timeout_seconds=30), http_scope())
    assert exchange.status == 413
    assert exchange.problem["code"] == "payload_too_large"
    assert exchange.read == 3  # the chunk that crossed 1000 bytes was the last one taken


async def test_an_announced_oversized_body_is_refused_before_any_of_it_is_read() -> None:
    exchange = Exchange([b"x" * 400] * 10)
    await exchange.run(
        BodyLimitMiddleware(reading_app, max_bytes=1000, timeout_seconds=30),
        http_scope(headers={"content-length": "4000"}),
    )
    assert (exchange.status, exchange.read) == (413, 0)


async def test_a_body_within_the_limit_reaches_the_app_whole() -> None:
    exchange = Exchange([b"x" * 500, b"x" * 500])
    await exchange.run(BodyLimitMiddleware(reading_app, max_bytes=1000, timeout_seconds=30), http_scope())
    assert (exchange.status, exchange.sent[1]["body"]) == (200, b"1000")


async def test_a_body_that_stops_arriving_is_refused_with_408() -> None:
    exchange = StalledExchange([b"x" * 100])  # the client sends a first chunk, then nothing
    await exchange.run(BodyLimitMiddleware(reading_app, max_bytes=1000, timeout_seconds=0.05), http_scope())
    assert exchange.status == 408
    assert exchange.problem["code"] == "request_timeout"
    assert (b"connection", b"close") in exchange.sent[0]["headers"]


class StalledExchange(Exchange):
    """A client that sends its chunks and then stalls without finishing the body."""

    async def receive(self) -> Message:
        if self.read < len(self.chunks):
            self.read += 1
            return {"type": "http.request", "body": self.chunks[self.read - 1], "more_body": True}
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")


# ---- authentication before the body -------------------------------------------------------------------

KEYS = {"right-key": ["orders:read"]}


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-key", "Basic cmlnaHQta2V5Og==", "Bearer "])
async def test_a_request_without_a_valid_key_is_401_before_its_body_is_read(authorization: str | None) -> None:
    exchange = Exchange([b"x" * 400] * 10)
    headers = {"authorization": authorization} if authorization is not None else {}
    await exchange.run(AuthenticationMiddleware(reading_app, KeyRing(KEYS)), http_scope(headers=headers))
    assert (exchange.status, exchange.read) == (401, 0)
    assert exchange.problem["code"] == "unauthorized"
    assert (b"www-authenticate", b"Bearer") in exchange.sent[0]["headers"]


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/com/orders.json", {"authorization": "Bearer right-key"}),
        ("/users/orders/anonymous/", {}),
        ("/health/ready", {}),
        ("/metrics", {}),
        ("/openapi.json", {}),
        ("/docs/oauth2-redirect", {}),
    ],
)
async def test_a_valid_key_public_paths_and_operations_pass(path: str, headers: dict[str, str]) -> None:
    exchange = Exchange([b"{}"])
    middleware = AuthenticationMiddleware(reading_app, KeyRing(KEYS), public_prefixes=["/users/orders/anonymous"])
    await exchange.run(middleware, http_scope(headers=headers, path=path))
    assert exchange.status == 200


# ---- content negotiation ------------------------------------------------------------------------------


def request(headers: dict[str, str], body: bytes = b"") -> Request:
    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(http_scope(headers=headers), receive)


@pytest.mark.parametrize(
    "accept",
    ["", "*/*", "application/json", "application/*", "text/html, application/json;q=0.1"],
)
async def test_accept_headers_that_allow_json_are_served(accept: str) -> None:
    await negotiate(request({"accept": accept} if accept else {}))


@pytest.mark.parametrize(
    "accept",
    [
        "text/html",
        "text/*",
        "application/xml",
        "application/problem+json",
        "application/json;q=0, */*;q=0.5",
        "*/*;q=0",
        "text/html;q=x",
    ],
)
async def test_accept_headers_that_exclude_json_are_406(accept: str) -> None:
    with pytest.raises(Problem) as refused:
        await negotiate(request({"accept": accept}))
    assert (refused.value.status, refused.value.code) == (406, "not_acceptable")


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "application/x+json"])
async def test_json_bodies_are_taken(content_type: str) -> None:
    await negotiate(request({"content-type": content_type}, b"{}"))


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/xml", "multipart/form-data; boundary=x"])
async def test_bodies_that_are_not_json_are_415(content_type: str | None) -> None:
    with pytest.raises(Problem) as refused:
        await negotiate(request({"content-type": content_type} if content_type else {}, b"{}"))
    assert (refused.value.status, refused.value.code) == (415, "unsupported_media_type")


async def test_a_request_without_a_body_needs_no_content_type() -> None:
    await negotiate(request({}))


# ---- Idempotency-Key ------------------------------------------------------------------------------


SETTINGS = OrderApiSettings(api_keys={"good-key": ["orders:write"]})


async def test_a_malformed_idempotency_key_is_400_before_the_request_runs() -> None:
    for key in ("", "k" * 256, "caf\u00e9", "tab\there"):
        exchange = Exchange([b"{}"])
        headers = {"authorization": "Bearer good-key"}
        scope = http_scope(headers=headers)
        scope["headers"].append((b"idempotency-key", key.encode("latin-1")))
        middleware = AuthenticationMiddleware(
            idempotency.IdempotencyMiddleware(reading_app, SETTINGS), KeyRing.of(SETTINGS)
        )
        await exchange.run(middleware, scope)
        assert (exchange.status, exchange.problem["code"]) == (400, "invalid_idempotency_key"), key
        assert exchange.read == 0


@pytest.mark.parametrize(
    ("method", "path", "authorization"),
    [
        ("GET", "/com/orders.json", "Bearer good-key"),
        ("POST", "/users/orders/anonymous/", ""),
        ("POST", "/users/orders/anonymous/", "Bearer good-key"),
    ],
)
async def test_keys_are_not_kept_for_reads_or_for_requests_without_an_authenticated_caller(
    method: str, path: str, authorization: str
) -> None:
    # Straight to the app, never to the key table (which this test has none of): strangers cannot fill
    # it, and on an open path nobody is authenticated, key or not.
    exchange = Exchange([b"{}"])
    scope = http_scope(method, {"authorization": authorization, "idempotency-key": "k-1"}, path=path)
    middleware = AuthenticationMiddleware(
        idempotency.IdempotencyMiddleware(reading_app, SETTINGS),
        KeyRing.of(SETTINGS),
        public_prefixes=["/users/orders/anonymous"],
    )
    await exchange.run(middleware, scope)
    assert (exchange.status, exchange.sent[1]["body"]) == (200, b"2")


def test_requests_are_the_same_when_only_their_json_spacing_or_key_order_differs() -> None:
    scope = http_scope()
    first = request_fingerprint(scope, b'{"order": {"email": "a@example.com", "price": 1.50}}')
    assert request_fingerprint(scope, b'{ "order":{"price":1.50 ,"email":"a@example.com"} }') == first
    assert request_fingerprint(scope, b'{"order": {"email": "b@example.com", "price": 1.50}}') != first
    assert (
        request_fingerprint(http_scope(path="/orders"), b'{"order": {"email": "a@example.com", "price": 1.50}}')
        != first
    )
    assert request_fingerprint(scope, b"not json") != request_fingerprint(scope, b"not json!")


# ---- Akinon translation ------------------------------------------------------------------------------


def test_an_order_in_akinon_fields_is_derived_from_the_snapshot() -> None:
    shipped_at = datetime(2026, 5, 1, tzinfo=UTC)
    [item] = sample_order(7).line_items

    def paid(tx_id: int, kind: TransactionKind, amount: str) -> Transaction:
        return Transaction(
            id=tx_id, kind=kind, status="success", amount=Decimal(amount), currency="USD", created_at=shipped_at
        )

    order = sample_order(7).model_copy(
        update={
            "total_discounts": Decimal("5.00"),
            "total_price": Decimal("30.00"),
            "total_shipping_price": Decimal("10.00"),
            "shipping_lines": [
                ShippingLine(
                    title="Express",
                    price=Decimal("10.00"),
                    tax_lines=[TaxLine(title="VAT", price=Decimal("2"), rate=Decimal("0.2"))],
                )
            ],
            "transactions": [paid(2, "sale", "30.00"), paid(3, "refund", "12.50")],
            "refunds": [
                Refund(
                    id=1,
                    amount=Decimal("12.50"),
                    refund_line_items=[
                        RefundLine(
                            line_item_id=70, quantity=1, subtotal=Decimal("12.50"), total_discount=Decimal("2.50")
                        )
                    ],
                    shipping=Decimal("2.50"),
                    created_at=shipped_at,
                )
            ],
            "fulfillments": [
                Fulfillment(
                    id=9,
                    status="success",
                    line_items=[FulfillmentLine(id=70, quantity=1)],
                    tracking_company="UPS",
                    tracking_number="1Z999",
                    tracking_url="https://ups.example/1Z999",
                    created_at=shipped_at,
                    updated_at=shipped_at,
                )
            ],
            "fulfillment_status": "partial",
            "line_items": [item.model_copy(update={"fulfillable_quantity": 1, "fulfillment_status": "partial"})],
            "financial_status": "partially_refunded",
            "note_attributes": [NameValue(name="gift", value="yes")],
        }
    )
    akinon = akinon_order(order).model_dump(mode="json")
    assert (akinon["pk"], akinon["number"]) == (7, "1007")
    assert (akinon["amount"], akinon["discount_amount"], akinon["amount_without_discount"]) == (
        "30.00",
        "5.00",
        "35.00",
    )
    assert (akinon["shipping_amount"], akinon["shipping_tax_rate"], akinon["refund_amount"]) == (
        "10.00",
        "0.2",
        "12.50",
    )
    assert (akinon["tracking_number"], akinon["tracking_url"], akinon["shipping_company"]) == (
        "1Z999",
        "https://ups.example/1Z999",
        "UPS",
    )
    assert (akinon["discount_refund_amount"], akinon["shipping_refund_amount"]) == ("2.50", "2.50")
    # One of two units shipped, one refunded: the other may still be cancelled or sent back, and money is
    # left to refund; nothing to pay.
    assert (akinon["is_cancelled"], akinon["is_cancellable"], akinon["is_refundable"], akinon["is_payable"]) == (
        False,
        True,
        True,
        False,
    )
    assert akinon["extra_field"] == {"gift": "yes"}
    assert (akinon["invoice_number"], akinon["bank"], akinon["bin_number"]) == (None, None, None)


@pytest.mark.parametrize(
    ("status", "financial_status", "payable", "refundable"),
    [("open", "pending", True, False), ("cancelled", "pending", False, False), ("open", "refunded", False, False)],
)
def test_akinon_payable_and_refundable_follow_the_order_state(
    status: str, financial_status: str, payable: bool, refundable: bool
) -> None:
    order = sample_order(8).model_copy(update={"status": status, "financial_status": financial_status})
    akinon = akinon_order(order)
    assert (akinon.is_payable, akinon.is_refundable, akinon.is_cancelled) == (
        payable,
        refundable,
        status == "cancelled",
    )
