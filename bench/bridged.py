"""Chat load with the platform bridges connected to local fakes (answering at once).

Measures, per platform: visitor send -> message posted at the fake, and fake-platform
operator reply -> message at the widget; and counts every message at every platform
(exactly once each: nothing lost, nothing duplicated).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.clients import Visitor
from bench.scenarios import Target, crowd, pocketping, send_at_rate
from bench.stats import summary_ms
from pocketping_testkit.fakes.discord import FakeDiscord
from pocketping_testkit.fakes.slack import FakeApp, FakeSlack
from pocketping_testkit.fakes.telegram import FakeTelegram

TAG = re.compile(r"bench ([a-z0-9]+-\d+)\b")  # brackets and the like get escaped by the bridges


@dataclass
class Platforms:
    telegram: FakeTelegram
    tg_token: str
    tg_chat: int
    discord: FakeDiscord
    dc_channel: str
    slack: FakeSlack
    slack_app: FakeApp
    slack_channel: str
    # The Slack fake stamps calls with wall-clock time; the rest of the bench uses monotonic time.
    wall_offset: float = 0.0

    def env(self) -> dict[str, str]:
        return {"POCKETPING_TELEGRAM_API_URL": self.telegram.url, "POCKETPING_DISCORD_API_URL": self.discord.api_url,
                "POCKETPING_SLACK_API_URL": self.slack.api_url, "POCKETPING_BRIDGE_PACING": "off"}

    def bridges(self) -> list[tuple[str, dict[str, Any]]]:
        return [("telegram", {"bot_token": self.tg_token, "chat_id": str(self.tg_chat)}),
                ("discord", {"bot_token": self.discord.token, "channel_id": self.dc_channel}),
                ("slack", {"bot_token": self.slack_app.bot_token, "channel_id": self.slack_channel,
                           "app_token": self.slack_app.app_token})]

    def arrivals(self) -> dict[str, dict[str, list[float]]]:
        """platform -> message tag -> times it arrived (more than one: a duplicate)."""
        out: dict[str, dict[str, list[float]]] = {"telegram": {}, "discord": {}, "slack": {}}
        for call in self.slack.calls_to("chat.postMessage", self.slack_app):
            for tag in TAG.findall(str(call.params.get("text", ""))):
                out["slack"].setdefault(tag, []).append(call.at - self.wall_offset)
        for msg in self.telegram.posts(self.tg_chat):
            for tag in TAG.findall(msg.text):
                out["telegram"].setdefault(tag, []).append(msg.at)
        for call in self.discord.calls("POST", r"/channels/\d+/messages$"):
            if call.status // 100 != 2:
                continue
            for tag in TAG.findall(str((call.body or {}).get("content", ""))):
                out["discord"].setdefault(tag, []).append(call.at)
        return out

    def telegram_thread(self, tag: str) -> int | None:
        return next((m.thread_id for m in self.telegram.posts(self.tg_chat) if tag in TAG.findall(m.text)), None)

    def slack_thread(self, tag: str) -> str | None:
        for call in self.slack.calls_to("chat.postMessage", self.slack_app):
            if tag in TAG.findall(str(call.params.get("text", ""))):
                return str(call.params.get("thread_ts") or "") or None
        return None

    def discord_thread(self, tag: str) -> str | None:
        for call in self.discord.calls("POST", r"/channels/\d+/messages$"):
            if tag in TAG.findall(str((call.body or {}).get("content", ""))):
                return call.path.split("/")[-2]
        return None


@contextlib.asynccontextmanager
async def platforms() -> AsyncIterator[Platforms]:
    telegram = FakeTelegram().start()
    token = telegram.add_bot()
    chat = telegram.add_forum(token)
    # Generous buckets: the point is our relay, not Discord's rate limits.
    discord = FakeDiscord(bucket_limit=100_000, global_limit=100_000).start()
    channel = discord.add_channel("support")
    slack = FakeSlack().start()
    app = slack.create_app(socket_mode=True)
    slack_channel = slack.create_channel(members=[app.bot_user_id]).id
    try:
        yield Platforms(telegram, token, chat, discord, channel, slack, app, slack_channel,
                        wall_offset=time.time() - time.monotonic())
    finally:
        telegram.stop()
        discord.stop()
        slack.stop()


async def _until(done: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def bridged_chat(backend: str, workdir: Path, rate: float, seconds: float, visitors: int, runs: int,
                       replies: int = 10) -> list[dict[str, float]]:
    """`runs` runs on one server and one set of platforms; each run has new visitors (so it
    opens new topics and threads, as new conversations do)."""
    async with platforms() as p, pocketping(backend, workdir, env=p.env(), bridges=p.bridges()) as target:
        results = []
        for run in range(runs):
            people = await crowd(target, visitors, prefix=f"r{run}v")
            results.append(await _one_run(p, target, people, rate, seconds, replies))
            for v in people:
                await v.close()
        return results


async def _one_run(p: Platforms, target: Target, people: list[Visitor], rate: float, seconds: float,
                   replies: int) -> dict[str, float]:
    await send_at_rate(people, rate, seconds)
    sent = {cid: t for v in people for cid, t in v.sent.items()}
    await _until(lambda: sum(len(v.acks) for v in people) >= len(sent), 60)
    # Wait (bounded) until every message reached all three platforms.
    await _until(lambda: all(sum(1 for tag in a if tag in sent) >= len(sent) for a in p.arrivals().values()), 180)
    arrivals = {platform: {tag: times for tag, times in seen.items() if tag in sent}
                for platform, seen in p.arrivals().items()}
    first_sent = min(sent.values())
    times = [t for seen in arrivals.values() for ts in seen.values() for t in ts]
    drained = max(times, default=first_sent) - first_sent
    result: dict[str, float] = {
        "rate": rate, "seconds": seconds, "visitors": len(people), "sent": len(sent),
        "acked": sum(len(v.acks) for v in people),
        # Platform posts per second, from the first visitor message to the last post anywhere.
        "deliveries_per_s": len(times) / drained if drained > 0 else 0.0,
        "drain_s": drained,
        "errors": sum(len(v.errors) for v in people),
        **{f"ack_{k}": val for k, val in summary_ms(
            [v.acks[c] - v.sent[c] for v in people for c in v.acks]).items()},
    }
    for platform, seen in arrivals.items():
        result[f"{platform}_lost"] = sum(1 for tag in sent if tag not in seen)
        result[f"{platform}_dup"] = sum(len(times) - 1 for times in seen.values())
        result.update({f"{platform}_{k}": val for k, val in summary_ms(
            [times[0] - sent[tag] for tag, times in seen.items()]).items()})
    result.update(await _replies(p, people[:replies]))
    return result


async def _replies(p: Platforms, sample: list[Visitor]) -> dict[str, float]:
    """An operator answers each sampled visitor from each platform; time until the widget has it."""
    waits: dict[str, list[float]] = {"telegram": [], "discord": [], "slack": []}
    for n, v in enumerate(sample):
        first = next(iter(v.sent), None)
        if first is None:
            continue
        for platform in waits:
            text = f"reply {platform} {n}"
            t0 = time.monotonic()
            if platform == "telegram":
                thread = p.telegram_thread(first)
                if thread is None:
                    continue
                p.telegram.operator_says(p.tg_chat, thread, text)
            elif platform == "discord":
                channel = p.discord_thread(first)
                if channel is None:
                    continue
                p.discord.post_as_user(channel, text)
            else:
                thread_ts = p.slack_thread(first)
                if thread_ts is None:
                    continue
                await asyncio.to_thread(p.slack.call, p.slack.operator_reply(p.slack_channel, thread_ts, text))
            if await _until(lambda t=text, v=v: t in v.incoming, 30):
                waits[platform].append(v.incoming[text] - t0)
    out: dict[str, float] = {}
    for platform, values in waits.items():
        out.update({f"reply_{platform}_{k}": val for k, val in summary_ms(values).items()})
    return out

