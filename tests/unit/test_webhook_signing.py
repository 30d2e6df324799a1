"""Standard Webhooks `v1a` (ed25519) signatures (services/webhook_dispatcher/asymmetric.py), beside the
HMAC `v1` ones: the reference implementation's test vector, the key formats, and a rotation's pair."""

import base64
import time

import pytest
from standardwebhooks.webhooks import Webhook

from services.webhook_dispatcher.asymmetric import generate_secret_key, public_key
from services.webhook_dispatcher.domain import (
    generate_secret,
    new_signing_key,
    public_key_of,
    shown_secret,
    sign,
    signatures,
    signing_of,
)
from tests.support.ed25519_verifier import V1aVerificationError, verify_v1a

BODY = b'{"type":"order.created","data":{"order_id":7}}'


def test_a_signature_matches_the_reference_implementations_test_vector() -> None:
    # libraries/go/webhook_asymmetric_test.go, TestAsymmetricWebhookSign, in the Standard Webhooks repository.
    key = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk="

    signature = sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')

    assert signature == ("v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==")


def test_keys_have_the_standard_webhooks_forms() -> None:
    secret = new_signing_key("ed25519")
    public = public_key_of(secret)

    assert secret.startswith("whsk_")
    assert len(base64.b64decode(secret.removeprefix("whsk_"), validate=True)) == 32
    assert public is not None
    assert public.startswith("whpk_")
    assert len(base64.b64decode(public.removeprefix("whpk_"), validate=True)) == 32
    assert (signing_of(public), shown_secret(secret)) == ("ed25519", None)
    assert new_signing_key("ed25519") != secret


def test_an_hmac_endpoint_keeps_its_secret_and_has_no_public_key() -> None:
    secret = new_signing_key("hmac-sha256")

    assert secret.startswith("whsec_")
    assert (public_key_of(secret), signing_of(None), shown_secret(secret)) == (None, "hmac-sha256", secret)


def _headers(signature: str, timestamp: int) -> dict[str, str]:
    return {"webhook-id": "msg_1", "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def test_a_v1a_signature_verifies_with_the_public_key_and_no_other() -> None:
    secret = generate_secret_key()
    now = int(time.time())
    headers = _headers(sign(secret, "msg_1", now, BODY), now)

    assert verify_v1a(public_key(secret), BODY, headers)["data"] == {"order_id": 7}
    with pytest.raises(V1aVerificationError):
        verify_v1a(public_key(generate_secret_key()), BODY, headers)
    with pytest.raises(V1aVerificationError):
        verify_v1a(public_key(secret), BODY.replace(b"7", b"8"), headers)


def test_during_a_rotation_either_public_key_verifies() -> None:
    new, old = generate_secret_key(), generate_secret_key()
    now = int(time.time())

    header = signatures([new, old], "msg_1", now, BODY)

    assert [entry.split(",")[0] for entry in header.split(" ")] == ["v1a", "v1a"]
    for key in (new, old):
        verify_v1a(public_key(key), BODY, _headers(header, now))


def test_a_v1_only_receiver_finds_no_signature_of_its_own_in_a_v1a_header() -> None:
    now = int(time.time())
    header = signatures([generate_secret_key()], "msg_1", now, BODY)

    with pytest.raises(Exception, match="No matching signature"):
        Webhook(generate_secret()).verify(BODY, _headers(header, now))
