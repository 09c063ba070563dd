"""Markdown report of a benchmark run."""

from __future__ import annotations

from typing import Any


def _f(value: Any, digits: int = 1) -> str:
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    plan = r["plan"]
    out = [
        "# PocketPing benchmark report",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']}, Python {m['python']} ({m['platform']}). "
        f"Load generator, fakes and server share the machine. File limit: {r['file_limit']}.",
        f"Every figure is the median of {plan['runs']} run(s) unless said otherwise. "
        f"Total time: {r['elapsed_s']:.0f} s"
        + (" (" + ", ".join(f"{k} {v:.0f} s" for k, v in r.get("timings", {}).items()) + ")." if r.get("timings")
           else "."),
        "",
        "## Start-up (`pocketping serve` to `/readyz` ready, SQLite)",
        "",
        "| database | seconds |",
        "|---|---|",
        f"| empty (runs migrations) | {_f(r['startup']['cold_s'], 2)} |",
        f"| migrated | {_f(r['startup']['warm_s'], 2)} |",
        "",
        "## The command line (wall seconds, medians, interleaved in this run)",
        "",
        "| command | seconds | over a bare interpreter |",
        "|---|---|---|",
        f"| `python -c pass` | {_f(r['cli']['bare_s'], 3)} | |",
        f"| `pocketping --help` | {_f(r['cli']['help_s'], 3)} | {_f(r['cli']['help_over_bare_s'], 3)} |",
        f"| `pocketping project list` | {_f(r['cli']['project_list_s'], 3)} | "
        f"{_f(r['cli']['project_list_over_bare_s'], 3)} |",
        "",
        f"## Relay vs. ceiling (closed loop, {plan['closed_clients']} clients, {plan['seconds']} s, SQLite)",
        "",
        "Ceiling: a bare Starlette WebSocket echo on the same uvicorn settings. Relay: a visitor message "
        "sent, validated, encrypted, stored durably, acknowledged and fanned out by PocketPing.",
        "",
        "| | msgs/s | round trip p50 ms | p99 ms |",
        "|---|---|---|---|",
    ]
    c = r["closed_loop"]
    out += [
        f"| ceiling (echo) | {_f(c['echo_msgs_per_s'], 0)} | {_f(c['echo_rtt_p50'], 2)} | {_f(c['echo_rtt_p99'], 2)} |",
        f"| PocketPing (send -> ack) | {_f(c['relay_msgs_per_s'], 0)} | {_f(c['relay_rtt_p50'], 2)} | "
        f"{_f(c['relay_rtt_p99'], 2)} |",
        f"| **relay / ceiling** | **{c['ratio'] * 100:.0f}%** | | |",
        "",
        "## Idle widget connections (SQLite)",
        "",
        "Authenticated widget connections (each with its visitor session), held idle. The larger counts "
        "are one server opened in steps (one run); the last step is as many as the file limit allows.",
        "",
        "| connections | runs | server RSS before MB | after MB | KB per connection | connects/s |",
        "|---|---|---|---|---|---|",
    ]
    for row in r["connections"]:
        label = f"{_f(int(row['n']))}" + (" (max attempt)" if row.get("max") else "")
        if "failed" in row:
            out.append(f"| {label} | 1 | failed: {row['failed']} | | | |")
            continue
        out.append(f"| {label} | {row.get('runs', plan['runs'])} | {_f(row['idle_rss_mb'])} | {_f(row['rss_mb'])} | "
                   f"{_f(row['kb_per_conn'])} | {_f(row['connects_per_s'], 0)} |")
    out += [
        "",
        "## Chat load (open loop)",
        "",
        f"Visitors send at a fixed total rate for {plan['chat_seconds']} s per run (no bridges: the storage path "
        "alone); ack = stored durably (committed) and acknowledged. "
        "Lost = sent but never acknowledged; duplicated = acknowledged or stored more than once "
        "(summed over all runs).",
        "",
        "| database | msgs/s asked | visitors | achieved | ack p50 ms | p95 ms | p99 ms | errors | lost | dup |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in r["chat"]:
        out.append(
            f"| {row['backend']} | {_f(int(row['rate']))} | {row['visitors']} | {_f(row['throughput'], 0)} | "
            f"{_f(row['ack_p50'], 2)} | {_f(row['ack_p95'], 2)} | {_f(row['ack_p99'], 2)} | {_f(row['errors'], 0)} | "
            f"{_f(int(row['lost_total']))} | {_f(int(row['dup_total']))} |")
    out += _bridged(r.get("bridged", []))
    out += _numbers(r.get("numbers", []))
    out.append("")
    return "\n".join(out)


def _numbers(rows: list[dict[str, Any]]) -> list[str]:
    out = ["", "## `pocketping stats` on a large project (90 days, computed in SQL)", "",
           "| sessions | database | seconds (median) | best | conversations counted | days |",
           "|---|---|---|---|---|---|"]
    for row in rows:
        out.append(f"| {_f(int(row['sessions']))} | {row['backend']} | {_f(row['seconds'], 3)} | "
                   f"{_f(row['best_s'], 3)} | {_f(int(row['conversations']))} | {_f(int(row['days']))} |")
    return out


def _bridged(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "",
        "## Chat load with Telegram, Discord and Slack bridges (local fakes answering at once)",
        "",
        "Every visitor message must reach all three platforms. Platform latency = visitor send -> the "
        "post recorded by the fake; deliveries/s = platform posts per second from the first send to the "
        "last post; reply = an operator's message at a fake platform -> the widget. Lost and duplicated "
        "count each message at each platform (summed over all runs).",
        "",
        "| database | msgs/s asked | seconds | visitors | ack p50 ms | ack p99 ms | deliveries/s | "
        "Telegram p50 / p99 ms | Discord p50 / p99 ms | Slack p50 / p99 ms | reply p50 ms (T/D/S) | lost | dup |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        platforms = " | ".join(f"{_f(row[f'{p}_p50'], 0)} / {_f(row[f'{p}_p99'], 0)}"
                               for p in ("telegram", "discord", "slack"))
        replies = " / ".join(_f(row[f"reply_{p}_p50"], 0) for p in ("telegram", "discord", "slack"))
        out.append(
            f"| {row['backend']} | {_f(int(row['rate']))} | {_f(row['seconds'])} | {_f(int(row['visitors']))} | "
            f"{_f(row['ack_p50'], 2)} | {_f(row['ack_p99'], 2)} | {_f(row['deliveries_per_s'], 0)} | {platforms} | "
            f"{replies} | {_f(int(row['lost_total']))} | {_f(int(row['dup_total']))} |")
    return out
