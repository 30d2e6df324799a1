"""Elastic Path's own JavaScript SDK (npm `@elasticpath/js-sdk` 35.0.0, unmodified) against order_api
running as a process on the real stack: configured with host, protocol, client_id and an API key as
client_secret, it trades them for a token at `POST /oauth/access_token` and anonymizes a cancelled
order with `Orders.anonymize`, then reads it with `Orders.Get` (the anonymizer takes that token too);
for an order that may not be anonymized it rejects with Elastic Path's 422 document. The Node client
is tests/e2e/elastic_path_sdk/client.cjs; its packages are installed once a session with `npm ci`
under .local/ (Node 20 and npm are required: without them these tests fail, they do not skip)."""

import asyncio
import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Final

import httpx
import pytest

from shared.auth import LOCAL_API_KEY
from shared.services import REPO_ROOT
from tests.e2e.conftest import READ_ONLY_KEY
from tests.support.processes import ServiceProcess
from tests.support.storefront import CREATE_PATH, addressed_order_body

SOURCE: Final = Path(__file__).parent / "elastic_path_sdk"
INSTALLED: Final = REPO_ROOT / ".local" / "elastic_path_sdk"
FILES: Final = ("package.json", "package-lock.json", "client.cjs")
MIN_NODE: Final = 20


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not on PATH: install Node.js {MIN_NODE}+ (with npm) to run Elastic Path's SDK test")
    return found


@pytest.fixture(scope="session")
def sdk_dir() -> Path:
    """The client and its pinned packages (`npm ci` from the committed lock file), once a session."""
    node, npm = _tool("node"), _tool("npm")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < MIN_NODE:
        pytest.fail(f"Node.js {MIN_NODE}+ is needed for Elastic Path's SDK test; this is {version}")
    INSTALLED.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copyfile(SOURCE / name, INSTALLED / name)
    installed = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], check=False, cwd=INSTALLED, capture_output=True, text=True, timeout=300
    )
    assert installed.returncode == 0, f"npm ci failed:\n{installed.stdout}\n{installed.stderr}"
    return INSTALLED


async def sdk(directory: Path, api: str, command: str, *ids: str, secret: str = LOCAL_API_KEY) -> dict[str, Any]:
    """Runs the SDK client once (a fresh token each time); what it reported."""
    env = os.environ | {
        "EP_HOST": httpx.URL(api).netloc.decode(),
        "EP_PROTOCOL": "http",
        "EP_CLIENT_ID": "e2e-back-office",
        "EP_CLIENT_SECRET": secret,
    }
    process = await asyncio.create_subprocess_exec(
        "node", "client.cjs", command, *ids, cwd=directory, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    report: dict[str, Any] = json.loads(stdout.decode().strip().splitlines()[-1])
    return report


async def create_order(http: httpx.AsyncClient, api: str, email: str) -> str:
    address = {"first_name": "Sidney", "last_name": "Sdkuser", "address1": "7 Token Street", "zip": "10001"}
    created = await http.post(api + CREATE_PATH, json=addressed_order_body(email, address))
    assert created.status_code == 201, created.text
    return str(created.json()["order"]["id"])


async def test_elastic_paths_sdk_anonymizes_a_cancelled_order_and_reads_it_back(
    sdk_dir: Path, system: dict[str, ServiceProcess], http: httpx.AsyncClient
) -> None:
    api = system["order_api"].url
    email = f"sidney.{uuid.uuid4().hex[:8]}@example.com"
    order_id = await create_order(http, api, email)
    cancelled = await http.post(f"{api}/com/orders/{order_id}/cancel.json", json={})
    assert cancelled.status_code == 200, cancelled.text

    anonymized = await sdk(sdk_dir, api, "anonymize", order_id)

    assert anonymized["ok"] is True, anonymized
    [order] = anonymized["result"]["data"]
    assert (order["type"], order["id"], order["status"], order["anonymized"]) == ("order", order_id, "cancelled", True)
    assert order["contact"] == {"email": "*", "name": "*"}
    # The SDK authenticated through the token endpoint: it holds a bearer token, not the key.
    credentials = anonymized["credentials"]
    assert (credentials["client_id"], credentials["token_type"]) == ("e2e-back-office", "Bearer")
    assert credentials["access_token"] != LOCAL_API_KEY
    assert credentials["expires"] > time.time()
    # The anonymizer, with the same key and token secret, takes order_api's token too.
    erasures = await http.get(
        f"{system['anonymizer'].url}/erasures", headers={"authorization": f"Bearer {credentials['access_token']}"}
    )
    assert erasures.status_code == 200, erasures.text

    fetched = await sdk(sdk_dir, api, "get", order_id)

    assert fetched["ok"] is True, fetched
    shown = fetched["result"]["data"]
    assert (shown["id"], shown["anonymized"]) == (order_id, True)
    assert {shown["billing_address"][name] for name in ("first_name", "last_name", "line_1", "postcode")} == {"*"}
    assert email not in json.dumps(fetched)
    assert "Sdkuser" not in json.dumps(fetched)


async def test_the_sdk_rejects_with_elastic_paths_422_for_an_order_that_may_not_be_anonymized(
    sdk_dir: Path, system: dict[str, ServiceProcess], http: httpx.AsyncClient
) -> None:
    api = system["order_api"].url
    email = f"open.{uuid.uuid4().hex[:8]}@example.com"
    order_id = await create_order(http, api, email)  # open, unfulfilled: not eligible

    refused = await sdk(sdk_dir, api, "anonymize", order_id)

    assert refused["ok"] is False, refused
    error = refused["error"]["errors"]
    assert (error["status"], error["title"], error["meta"]) == (
        422,
        "Could not anonymize orders",
        {"order_id": order_id},
    )
    assert "order:" in error["detail"]
    assert "may be anonymized" in error["detail"]
    unchanged = await http.get(f"{api}/v2/orders/{order_id}")
    assert unchanged.json()["data"]["anonymized"] is False
    assert email in unchanged.text


async def test_the_sdk_is_refused_a_token_for_a_secret_that_is_no_key_and_a_route_its_key_may_not_use(
    sdk_dir: Path, system: dict[str, ServiceProcess]
) -> None:
    api = system["order_api"].url

    no_key = await sdk(sdk_dir, api, "anonymize", "1", secret="not-a-key")
    reader = await sdk(sdk_dir, api, "anonymize", "1", secret=READ_ONLY_KEY)

    assert no_key["ok"] is False
    assert no_key["error"]["error"] == "invalid_client"
    assert no_key["credentials"] is None
    assert reader["ok"] is False
    assert (reader["error"]["status"], reader["error"]["code"]) == (403, "forbidden")
    assert reader["credentials"]["access_token"] != READ_ONLY_KEY
