"""A project's numbers (``pocketping stats``, the inbox's Stats page), computed in SQL.

Durations are taken in the database (each backend has its own way to subtract two times);
percentiles are the nearest rank (the value at rank ceil(q * n), PostgreSQL's
``percentile_disc``; elsewhere one ``ORDER BY ... LIMIT 1 OFFSET k`` each), so nothing is read
row by row.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, case, cast, func, literal_column, select

from pocketping.store.db import Tx
from pocketping.store.schema import messages, sessions


def _seconds(tx: Tx, later: Any, earlier: Any) -> ColumnElement[Any]:
    if tx.dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    if tx.dialect == "postgresql":
        return func.extract("epoch", later - earlier)
    return func.timestampdiff(literal_column("MICROSECOND"), earlier, later) / 1e6


async def _percentiles(tx: Tx, value: ColumnElement[Any], where: Any, qs: tuple[float, ...]) -> dict[str, float | None]:
    if tx.dialect == "postgresql":  # one pass, the same figures (percentile_disc is the row at that rank)
        row = (await tx.conn.execute(select(*(func.percentile_disc(q).within_group(value) for q in qs))
                                     .where(where))).one()
        return {f"p{round(q * 100)}": None if v is None else round(float(v), 3) for q, v in zip(qs, row, strict=True)}
    n = int((await tx.conn.execute(select(func.count()).select_from(sessions).where(where))).scalar_one())
    out: dict[str, float | None] = {}
    for q in qs:
        key = f"p{round(q * 100)}"
        if n == 0:
            out[key] = None
            continue
        row = (await tx.conn.execute(select(value).where(where).order_by(value)
                                     .offset(max(0, math.ceil(q * n) - 1)).limit(1))).scalar_one()
        out[key] = round(float(row), 3)
    return out


async def project_stats(tx: Tx, project_id: str, since: datetime) -> dict[str, Any]:
    started = and_(sessions.c.project_id == project_id, sessions.c.first_message_at.is_not(None),
                   sessions.c.first_message_at >= since)
    answered = and_(started, sessions.c.first_response_at.is_not(None))
    resolved = and_(started, sessions.c.status == "closed", sessions.c.closed_at.is_not(None))
    first = _seconds(tx, sessions.c.first_response_at, sessions.c.first_message_at)
    resolution = _seconds(tx, sessions.c.closed_at, sessions.c.first_message_at)
    stars = case((sessions.c.rating_scale == "stars", sessions.c.rating_score))
    thumbs = case((sessions.c.rating_scale == "thumbs", sessions.c.rating_score))
    # Answered by the AI: the AI wrote in it (the AI worker's count, or any AI message).
    ai_wrote = select(messages.c.id).where(messages.c.session_id == sessions.c.id, messages.c.sender == "ai").exists()
    by_ai = case((sessions.c.ai_reply_count > 0, 1), (ai_wrote, 1), else_=0)
    totals = (await tx.conn.execute(select(
        func.count(), func.sum(by_ai), func.count(stars), func.avg(cast(stars, Float)), func.count(thumbs),
        func.avg(cast(thumbs, Float)), func.count(sessions.c.first_response_at),
    ).where(started))).one()
    day = func.date(sessions.c.first_message_at)
    days = (await tx.conn.execute(select(
        day, func.count(), func.sum(by_ai), func.avg(case((sessions.c.first_response_at.is_not(None), first))),
        func.count(stars), func.avg(cast(stars, Float)),
    ).where(started).group_by(day).order_by(day))).all()
    count = int(totals[0])

    def num(value: Any, digits: int = 3) -> float | None:
        return None if value is None else round(float(value), digits)

    return {
        "since": since, "conversations": count, "answered": int(totals[6]),
        "firstResponseSeconds": await _percentiles(tx, first, answered, (0.5, 0.9)),
        "resolutionSeconds": await _percentiles(tx, resolution, resolved, (0.5, 0.9)),
        "aiShare": num(int(totals[1] or 0) / count) if count else None,
        "ratings": {"stars": {"count": int(totals[2]), "mean": num(totals[3], 2)},
                    "thumbs": {"count": int(totals[4]), "upShare": num(totals[5], 3)}},
        "days": [{"day": str(d[0])[:10], "conversations": int(d[1]), "answeredByAi": int(d[2] or 0),
                  "firstResponseMeanSeconds": num(d[3]), "ratings": int(d[4]), "ratingMean": num(d[5], 2)}
                 for d in days],
    }
