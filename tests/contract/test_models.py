"""The Python SDK's models against the server's /openapi.json: a field the server sends that a
model lacks fails here (the Node.js SDK's types are checked the same way, in tests/sdk_node/)."""

from __future__ import annotations

import dataclasses

import httpx
import pocketping_sdk

from .schemas import MODELS, answered_schemas, fields, snake


def _document(server) -> dict:
    return httpx.get(f"{server.base_url}/openapi.json", timeout=10).json()


def test_every_answered_schema_is_in_the_contract(server):
    doc = _document(server)
    unlisted = answered_schemas(doc) - set(MODELS)
    assert unlisted == set(), f"add these schemas to tests/contract/models.json (and to both SDKs): {unlisted}"


def test_python_models_have_every_field_the_server_sends(server):
    doc = _document(server)
    missing: dict[str, set[str]] = {}
    for schema, sdk in MODELS.items():
        if sdk["python"] is None:
            assert sdk.get("why"), schema
            continue
        model = getattr(pocketping_sdk, sdk["python"])
        have = {f.name for f in dataclasses.fields(model)}
        lacking = {name for name in fields(doc, schema) if snake(name) not in have}
        if lacking:
            missing[f"{schema} -> {sdk['python']}"] = lacking
    assert missing == {}
