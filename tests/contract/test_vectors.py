"""The signing and identity vectors of tests/contract/vectors.json, which the Node.js SDK's tests
read too (sdk-node/test/vectors.test.mjs): the server signs and hashes as they say, and the
Python SDK signs, verifies and hashes as they say."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pocketping_sdk import PocketPingSync, WebhookVerificationError
from pocketping_sdk import signing as sdk_signing

from pocketping.actions.sessions import user_hash as server_user_hash
from pocketping.webhooks.signing import signature_header

VECTORS = json.loads((Path(__file__).parent / "vectors.json").read_text(encoding="utf-8"))


def _ids(cases: list[dict[str, Any]], key: str) -> list[str]:
    return [str(case[key])[:60] for case in cases]


def test_the_vectors_cover_every_outcome():
    results = {case["result"] for case in VECTORS["verify"]}
    assert results == {"valid", "stale_signature", "invalid_signature", "missing_signature", "invalid_payload"}
    assert any(len(case["secrets"]) > 1 for case in VECTORS["verify"])  # rotation
    assert any(case["header"].count("v1=") > 1 for case in VECTORS["verify"])  # several v1


@pytest.mark.parametrize("case", VECTORS["sign"], ids=_ids(VECTORS["sign"], "header"))
def test_server_and_sdk_sign_as_the_vectors_say(case):
    body = case["body"].encode()
    assert signature_header(case["secret"], case["timestamp"], body) == case["header"]
    assert sdk_signing.sign(case["secret"], case["timestamp"], body) == case["header"]


@pytest.mark.parametrize("case", VECTORS["verify"], ids=_ids(VECTORS["verify"], "name"))
def test_the_sdk_verifies_as_the_vectors_say(case):
    pp = PocketPingSync(secret_key="sk_live_x", base_url="http://127.0.0.1:9", webhook_secret=case["secrets"],
                        clock=lambda: float(case["now"]))
    headers = {"PocketPing-Signature": case["header"]} if case["header"] else {}
    tolerance = case.get("toleranceSeconds", 300)
    if case["result"] == "valid":
        event = pp.verify_webhook(case["body"].encode(), headers, tolerance=tolerance)
        assert event.id == json.loads(case["body"])["id"]
    else:
        with pytest.raises(WebhookVerificationError) as info:
            pp.verify_webhook(case["body"].encode(), headers, tolerance=tolerance)
        assert info.value.code == case["result"]
    pp.close()


@pytest.mark.parametrize("case", VECTORS["identity"], ids=_ids(VECTORS["identity"], "userId"))
def test_server_and_sdk_hash_identities_as_the_vectors_say(case):
    assert server_user_hash(case["secret"], case["userId"]) == case["userHash"]
    pp = PocketPingSync(secret_key="sk_live_x", base_url="http://127.0.0.1:9", identity_secret=case["secret"])
    assert pp.user_hash(case["userId"]) == case["userHash"]
    pp.close()
