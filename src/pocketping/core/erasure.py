"""Erasure's pure rules and names (docs/erasure.md)."""

from __future__ import annotations

from typing import Any

from pocketping.errors import InvalidInput

TARGET = "erase"  # the outbox target of an erasure's deletions elsewhere
FILES = "files"  # the target id (and step) of the stored files
MAX_RETENTION_DAYS = 36_500


def check_retention_days(value: Any) -> int:
    """0 (or unset): keep forever; else whole days, up to 100 years."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RETENTION_DAYS:
        raise InvalidInput(f"--retention-days must be a whole number of days from 0 (keep forever) to "
                           f"{MAX_RETENTION_DAYS}", code="invalid_retention", field="retention_days")
    return value
