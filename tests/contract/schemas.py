"""Reading the server's OpenAPI document for the SDK contract tests (both languages)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_CONTRACT = json.loads((Path(__file__).parent / "models.json").read_text())
MODELS: dict[str, dict[str, Any]] = _CONTRACT["schemas"]
NOT_COVERED: list[str] = _CONTRACT["notCovered"]
REF = "#/components/schemas/"


def _refs(node: Any) -> set[str]:
    """Every schema a JSON-schema fragment refers to."""
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF):
            found.add(ref[len(REF):])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def answered_schemas(doc: dict[str, Any]) -> set[str]:
    """The schemas the successful answers of /api/v1 reach (but for the paths neither SDK
    covers), following references."""
    todo: set[str] = set()
    for path, item in doc["paths"].items():
        if not path.startswith("/api/v1/") or any(path == p or path.startswith(p + "/") for p in NOT_COVERED):
            continue
        for op in item.values():
            for code, answer in op["responses"].items():
                if code.startswith("2"):
                    todo |= _refs(answer.get("content", {}))
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo |= _refs(doc["components"]["schemas"][name])
    return seen


def fields(doc: dict[str, Any], schema: str) -> set[str]:
    return set(doc["components"]["schemas"][schema].get("properties", {}))


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
