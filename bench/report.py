"""Markdown report of a benchmark run."""

from __future__ import annotations

from typing import Any

from bench import idle, retrieval


def _f(value: Any, digits: int = 1) -> str:
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render_side_by_side(r: dict[str, Any]) -> str:
    m = r["machine"]
    return "\n".join(["# PocketPing benchmark report (side by side only)", "",
                      f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']}, Python {m['python']}. "
                      f"Total time: {r['elapsed_s']:.0f} s.", *side_by_side(r["side_by_side"]), ""])


def _startup_lines(r: dict[str, Any]) -> list[str]:
    rows = r["startup"]
    runs = rows[0]["runs"] if rows else 0
    return [
        "## Start-up (`pocketping serve` to `/readyz` ready)",
        "",
        f"Migrated: median of {runs} starts (fastest in brackets); RSS: the server after 2 s idle "
        f"({r['plan']['startup_settle_s']} s in a smoke run), median.",
        "",
        "| database | empty (runs the migrations) s | migrated s | idle RSS MB | load average before |",
        "|---|---|---|---|---|",
        *[f"| {row['backend']} | {_f(row['cold_s'], 2)} | {_f(row['warm_s'], 2)} ({_f(row['warm_min_s'], 2)}) | "
          f"{_f(row['rss_mb'], 1)} | {_f(row['load_1m'], 1)} |" for row in rows],
        "",
    ]


def render_startup(r: dict[str, Any]) -> str:
    """``python -m bench --only startup``."""
    m = r["machine"]
    return "\n".join([
        "# PocketPing start-up",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']}, Python {m['python']} ({m['platform']}).",
        "",
        *_startup_lines(r),
    ])


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
        *_startup_lines(r),
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
    out += idle.render(r.get("idle", []))
    out += _nodes(r.get("nodes", []), r.get("deliveries", []))
    if r.get("side_by_side"):
        out += side_by_side(r["side_by_side"])
    out += _numbers(r.get("numbers", []))
    out += render_bounded(r.get("bounded", []))
    out += retrieval.render(r.get("retrieval", []))
    out.append("")
    return "\n".join(out)


def _nodes(rows: list[dict[str, Any]], deliveries: list[dict[str, Any]]) -> list[str]:
    out = [
        "",
        "## Several nodes (PostgreSQL + Redis)",
        "",
        "The same open-loop chat load spread round-robin over 1, 2 and 3 `serve --no-workers` processes on "
        "one PostgreSQL and one Redis (live events between nodes through Redis). CPU = every web process's "
        "CPU time per stored message.",
        "",
        "| web processes | msgs/s asked | achieved | ack p50 ms | ack p99 ms | CPU ms/msg | lost | dup |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        out.append(f"| {int(row['nodes'])} | {_f(int(row['rate']))} | {_f(row['throughput'], 0)} | "
                   f"{_f(row['ack_p50'], 2)} | {_f(row['ack_p99'], 2)} | {_f(row['cpu_ms_per_msg'], 2)} | "
                   f"{_f(int(row['lost_total']))} | {_f(int(row['dup_total']))} |")
    out += [
        "",
        "Deliveries to the Telegram, Discord and Slack fakes (answering at once) while visitors chat on one web "
        "process: the workers inside `serve`, or `serve --no-workers` plus one or two `pocketping worker` "
        "processes; \"chat alone\" is the same load without bridges. CPU = the delivering processes' CPU time "
        "per platform post (the web process's when the workers run inside it).",
        "",
        "| workers | msgs/s asked | ack p50 ms | ack p99 ms | ack p99 / chat alone | deliveries/s | "
        "CPU ms/delivery | lost | dup |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    alone = next((d["ack_p99"] for d in deliveries if d["mode"] == "chat alone"), float("nan"))
    for d in deliveries:
        ratio = d["ack_p99"] / alone if alone == alone and alone > 0 else float("nan")
        out.append(f"| {d['mode']} | {_f(int(d['rate']))} | {_f(d['ack_p50'], 2)} | {_f(d['ack_p99'], 2)} | "
                   f"{_f(ratio, 2)}x | {_f(d.get('deliveries_per_s', 0.0), 0)} | "
                   f"{_f(d.get('cpu_ms_per_delivery', 0.0), 2)} | {_f(int(d.get('lost', 0)))} | "
                   f"{_f(int(d.get('dup', 0)))} |")
    return out


def render_bounded(rows: list[dict[str, Any]]) -> list[str]:
    """Each figure at each size, and its cost at the largest size over its cost at the smallest."""
    if not rows:
        return []
    first = rows[0]
    out = ["", "## Bounded by the page, not the history", "",
           f"One project on {first['backend']}, filled straight into the database; one conversation of "
           f"{_f(int(first['long_messages']))} messages resumed with `lastSeq=0`; pages of 50; the deep page is "
           "the one at 90% of the list. Wall ms through `pocketping serve`, medians.", "",
           "| figure | " + " | ".join(f"{_f(int(r['sessions']))} sessions, {_f(int(r['messages']))} messages"
                                      for r in rows) + " | last / first |",
           "|---|" + "---|" * len(rows) + "---|"]
    figures = [("widget resume, hello -> synced, ms", "resume_ms"), ("resume: frames", "resume_frames"),
               ("resume: bytes", "resume_bytes"), ("inbox list, first page, ms", "inbox_first_ms"),
               ("inbox list, deep page, ms", "inbox_deep_ms"), ("inbox: conversations listed", "inbox_listed"),
               ("GET /api/v1/sessions, first page, ms", "rest_first_ms"),
               ("GET /api/v1/sessions, deep page, ms", "rest_deep_ms"), ("sessions listed", "rest_listed")]
    for label, key in figures:
        values = [r[key] for r in rows]
        cells = [_f(v, 1) if isinstance(v, float) else _f(int(v)) for v in values]
        ratio = f"{values[-1] / values[0]:.2f}x" if values[0] else ""
        out.append(f"| {label} | " + " | ".join(cells) + f" | {ratio} |")
    return out


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


# Each row: figure key, label, digits, whether higher is better.
SIDE_BY_SIDE_ROWS = [
    ("msgs_per_s_{0}", "{0} visitors, closed loop, msgs/s", 0, True),
    ("msgs_per_s_{1}", "{1} visitors, closed loop, msgs/s", 0, True),
    ("cpu_per_1000_{0}", "server CPU s per 1,000 messages ({0} visitors)", 2, False),
    ("cpu_per_1000_{1}", "server CPU s per 1,000 messages ({1} visitors)", 2, False),
    ("lone_cpu_ms", "a lone message on an idle server: server CPU ms", 2, False),
    ("lone_ack_ms", "a lone message: ack p50 ms", 2, False),
    ("idle_rss_mb", "idle RSS MB", 0, False),
    ("kb_per_conn", "KB per idle connection", 1, False),
    ("connects_per_s", "connects per second (each creates a session)", 0, True),
    ("reply_p50_ms", "operator reply: REST call made -> at the visitor, p50 ms", 2, False),
    ("reply_after_return_p50_ms", "operator reply: REST call answered -> at the visitor, p50 ms", 2, False),
]


def side_by_side(s: dict[str, Any]) -> list[str]:
    f = s["figures"]
    names = list(f)
    loads = s["loads"]
    ref = f.get("reference")
    ceiling = f.get("echo")
    out = [
        "",
        "## Side by side: PocketPing, the reference server, the ceilings",
        "",
        f"Interleaved rounds ({s['rounds']}), medians. Reference: PyPI `pocketping` 1.12.0 (FastAPI, sessions in "
        "memory, nothing durable), in its own virtual environment. Echo: a bare WebSocket echo; durable: the echo "
        "answering once one row per message is group-committed on the same engine settings (what durability alone "
        f"costs). {s['connections']:,} connections opened per subject; a lone message = {s['lone']} in a row from "
        f"one visitor; closed loops of {s['seconds']} s. Machine load during the run: load average "
        f"{s['load_before'][0]:.2f} before, {s['load_after'][0]:.2f} after; all cores "
        f"{s['machine_cpu_percent']:.0f}% busy on average (load generator included).",
        "",
        "| figure | " + " | ".join(names) + " | ours / reference | ours / echo |",
        "|---|" + "---|" * (len(names) + 2),
    ]
    ours = [n for n in names if n.startswith("ours")]
    for key, label, digits, _higher in SIDE_BY_SIDE_ROWS:
        k = key.format(*loads)
        cells = [_f(f[n][k], digits) if k in f[n] else "" for n in names]
        vs_ref = " / ".join(f"{f[n][k] / ref[k]:.2f}x" for n in ours if ref and ref.get(k)) if ours else ""
        vs_echo = " / ".join(f"{f[n][k] / ceiling[k]:.2f}x" for n in ours
                             if ceiling and ceiling.get(k)) if ours else ""
        out.append(f"| {label.format(*loads)} | " + " | ".join(cells) + f" | {vs_ref} | {vs_echo} |")
    out += ["", "Ratios are " + " / ".join(ours) + "; for msgs/s and connects/s higher is better, for the rest "
            "lower is better."]
    return out
