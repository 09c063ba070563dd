"""The OpenAPI document covers every REST endpoint, and a schemathesis run against the real
server (every operation, generated valid and invalid input) finds no server error.

Generic on purpose: endpoints added by any feature are covered without touching this file.
"""

from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.openapi import from_dict
from schemathesis.specs.openapi.checks import response_schema_conformance

EXAMPLES_PER_OPERATION = 30


def _document(server) -> dict:
    return httpx.get(f"{server.base_url}/openapi.json", timeout=10).json()


def _routes(server) -> set[tuple[str, str]]:
    from fastapi.routing import APIRoute

    return {(method.lower(), route.path) for route in server.app.routes if isinstance(route, APIRoute)
            and route.include_in_schema for method in route.methods}


def test_every_rest_endpoint_is_documented_with_request_and_response_schemas(server):
    doc = _document(server)
    documented = {(method, path) for path, item in doc["paths"].items() for method in item}
    assert {r for r in _routes(server) if r[1].startswith("/api/")} <= documented
    for path, item in doc["paths"].items():
        for method, op in item.items():
            ok = [code for code in op["responses"] if code.startswith("2")]
            assert ok, f"{method} {path} documents no success answer"
            for code in ok:
                content = op["responses"][code].get("content", {})
                assert content and all("schema" in c for c in content.values()), f"{method} {path} {code}"
            if method in ("post", "put", "patch") and "requestBody" in op:
                assert op["requestBody"]["content"]["application/json"]["schema"]
            if path.startswith("/api/"):
                assert "401" in op["responses"] and "422" in op["responses"], f"{method} {path}"


def _operations(doc: dict) -> list:
    schema = from_dict(doc)
    operations = []
    for result in schema.get_all_operations():
        operation = result.ok()
        answers = operation.definition.raw.get("responses", {})
        streams = any("text/event-stream" in (a.get("content") or {}) for a in answers.values())
        if not streams:  # an endless stream is tested on its own (tests/webhooks/test_stream.py)
            operations.append(operation)
    return operations


def test_schemathesis_finds_no_server_error(server, project):
    doc = _document(server)
    operations = _operations(doc)
    assert len(operations) >= 15
    headers = {"Authorization": f"Bearer {project.secret_key}"}
    failures: list[str] = []
    for operation in operations:
        label = operation.label

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case) -> None:
            response = case.call(base_url=server.base_url, headers=headers, timeout=20)
            try:
                case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
            except AssertionError as exc:
                failures.append(f"{label}: {str(exc)[:800]}")  # noqa: B023 - run() is called in this iteration
                raise

        try:
            run()
        except Exception:  # recorded in failures; keep going to report every operation
            pass
    assert not failures, "\n\n".join(failures)


def _adversarial(value, *, nul: bool):
    """The value with every string given a NUL (``nul``) or every integer made far too large."""
    if isinstance(value, dict):
        return {k: _adversarial(v, nul=nul) for k, v in value.items()}
    if isinstance(value, list):
        return [_adversarial(v, nul=nul) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and not nul:
        return 2**70
    if isinstance(value, str) and nul:
        return value + "\x00"
    return value


def test_nul_and_out_of_range_integers_in_every_field_give_no_server_error(server, project):
    """schemathesis' cases with NUL in every string and 2**70 in every integer (path, query,
    body): on PostgreSQL these used to end in 500s (F3)."""
    doc = _document(server)
    headers = {"Authorization": f"Bearer {project.secret_key}"}
    failures: list[str] = []
    for operation in _operations(doc):
        label = operation.label

        @settings(max_examples=4, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case) -> None:
            for nul in (True, False):
                for part in ("path_parameters", "query", "body"):
                    original = getattr(case, part, None)
                    if not original or not isinstance(original, dict):
                        continue
                    setattr(case, part, _adversarial(original, nul=nul))
                    try:
                        response = case.call(base_url=server.base_url, headers=headers, timeout=20)
                    finally:
                        setattr(case, part, original)
                    if response.status_code >= 500:
                        failures.append(f"{label} ({part}, {'NUL' if nul else '2**70'}): "  # noqa: B023
                                        f"{response.status_code} {response.text[:300]}")

        run()
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("path", ["/openapi.json", "/docs"])
def test_openapi_is_served(server, path):
    assert httpx.get(f"{server.base_url}{path}", timeout=10).status_code == 200
