"""Office hours (pure): ``mon-fri 09:00-18:00; sat 10:00-13:00`` in a time zone, with closed days."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pocketping.errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RULE = re.compile(r"([a-z]{3})(?:-([a-z]{3}))?\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")


@dataclass(frozen=True)
class Span:
    days: frozenset[int]  # 0 = Monday
    start: int  # minutes after midnight
    end: int  # exclusive; 24:00 is 1440


def _day(name: str) -> int:
    if name not in DAYS:
        raise InvalidInput(f"--hours: unknown day {name!r} (mon, tue, wed, thu, fri, sat, sun)", code="invalid_hours")
    return DAYS.index(name)


def parse_hours(text: str) -> tuple[Span, ...]:
    """``mon-fri 09:00-18:00; sat 10:00-13:00``; InvalidInput (``invalid_hours``) says what is wrong."""
    spans = []
    for part in (p.strip().lower() for p in text.split(";")):
        if not part:
            continue
        match = _RULE.fullmatch(part)
        if match is None:
            raise InvalidInput(f"--hours: {part!r} is not like 'mon-fri 09:00-18:00'", code="invalid_hours")
        first, last = _day(match.group(1)), _day(match.group(2) or match.group(1))
        days = range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)]
        h1, m1, h2, m2 = (int(match.group(i)) for i in range(3, 7))
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if m1 > 59 or m2 > 59 or start >= end or end > 1440:
            raise InvalidInput(f"--hours: {part!r} needs a start before its end, within a day", code="invalid_hours")
        spans.append(Span(frozenset(days), start, end))
    if not spans:
        raise InvalidInput("--hours needs at least one rule, e.g. 'mon-fri 09:00-18:00'", code="invalid_hours")
    return tuple(spans)


def check_hours(text: Any) -> str:
    if not isinstance(text, str):
        raise InvalidInput("--hours must be text like 'mon-fri 09:00-18:00'", code="invalid_hours")
    parse_hours(text)
    return "; ".join(p.strip().lower() for p in text.split(";") if p.strip())


def check_timezone(name: Any) -> str:
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"--timezone: unknown time zone {name!r} (e.g. Europe/Paris)",
                           code="invalid_timezone") from exc
    return str(name)


def check_closed_on(value: Any) -> list[str]:
    days = value.split(",") if isinstance(value, str) else list(value)
    out = []
    for day in (str(d).strip() for d in days):
        if not day:
            continue
        try:
            out.append(date.fromisoformat(day).isoformat())
        except ValueError as exc:
            raise InvalidInput(f"--closed-on: {day!r} is not a date like 2026-12-25", code="invalid_date") from exc
    return sorted(set(out))


def check_away_message(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 500:
        raise InvalidInput("--away-message must be at most 500 characters", code="invalid_setting")
    return value.strip()


def check_consent_text(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 500:
        raise InvalidInput("--consent-text must be at most 500 characters", code="invalid_setting")
    return value.strip()


def is_open(extra: dict[str, Any], now: datetime) -> bool:
    """Inside the project's office hours (always, when it sets none)."""
    hours = extra.get("hours")
    if not hours:
        return True
    local = now.astimezone(ZoneInfo(extra.get("timezone") or "UTC"))
    if local.date().isoformat() in (extra.get("closed_on") or ()):
        return False
    minute = local.hour * 60 + local.minute
    return any(local.weekday() in s.days and s.start <= minute < s.end for s in parse_hours(hours))
