"""``pocketping stats PROJECT_ID [--since 30d] [--json]``: how the team is doing."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pocketping.cli.common import JsonOpt, emit, run


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def human(s: dict[str, Any]) -> str:
    stars, thumbs = s["ratings"]["stars"], s["ratings"]["thumbs"]
    rows = [
        f"since {s['since']} ({s['period']})",
        f"conversations started: {s['conversations']} (answered: {s['answered']})",
        f"first response: p50 {_duration(s['firstResponseSeconds']['p50'])}, "
        f"p90 {_duration(s['firstResponseSeconds']['p90'])}",
        f"resolution: p50 {_duration(s['resolutionSeconds']['p50'])}, p90 {_duration(s['resolutionSeconds']['p90'])}",
        "answered by the AI: " + ("-" if s["aiShare"] is None else f"{s['aiShare'] * 100:.0f}%"),
        f"ratings: {stars['count']} stars (mean {stars['mean'] if stars['mean'] is not None else '-'}), "
        f"{thumbs['count']} thumbs ("
        + ("-" if thumbs["upShare"] is None else f"{thumbs['upShare'] * 100:.0f}% up") + ")",
        "",
        "day         conversations  by AI  first response (mean)  ratings  mean",
    ]
    for d in s["days"]:
        rows.append(f"{d['day']}  {d['conversations']:>13}  {d['answeredByAi']:>5}  "
                    f"{_duration(d['firstResponseMeanSeconds']):>22}  {d['ratings']:>7}  "
                    f"{d['ratingMean'] if d['ratingMean'] is not None else '-':>4}")
    return "\n".join(rows)


def stats(project_id: str,
          since: Annotated[str, typer.Option(help="The period: 12h, 30d, 8w ...")] = "30d",
          as_json: JsonOpt = False) -> None:
    """Conversations started, first-response and resolution times (p50, p90), the AI's share
    and ratings, by day."""
    from pocketping.actions.stats import project_stats

    found = run(lambda svc: project_stats(svc, project_id, since), as_json)
    emit(found, as_json, lambda: human(found))
