"""A small User-Agent reader: browser, operating system and device class, nothing more."""

from __future__ import annotations

import re

_BROWSERS = (
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/(\d+)")),
    ("Opera", re.compile(r"(?:OPR|Opera)/(\d+)")),
    ("Samsung Internet", re.compile(r"SamsungBrowser/(\d+)")),
    ("Firefox", re.compile(r"(?:Firefox|FxiOS)/(\d+)")),
    ("Chrome", re.compile(r"(?:Chrome|CriOS)/(\d+)")),
    ("Safari", re.compile(r"Version/(\d+)[.\d]* (?:Mobile/\S+ )?Safari/")),
)
_OSES = (
    ("iOS", re.compile(r"iPhone|iPad|iPod")),
    ("Android", re.compile(r"Android")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Mac OS X|Macintosh")),
    ("Linux", re.compile(r"Linux")),
)
_BOT = re.compile(r"bot|crawl|spider|slurp|headless", re.I)


def parse_user_agent(ua: str | None) -> dict[str, str]:
    if not ua:
        return {"browser": "Unknown", "os": "Unknown", "device": "unknown"}
    browser = "Unknown"
    for name, pattern in _BROWSERS:
        m = pattern.search(ua)
        if m:
            browser = f"{name} {m.group(1)}"
            break
    os_name = next((name for name, pattern in _OSES if pattern.search(ua)), "Unknown")
    if _BOT.search(ua):
        device = "bot"
    elif "iPad" in ua or "Tablet" in ua or (os_name == "Android" and "Mobile" not in ua):
        device = "tablet"
    elif "Mobi" in ua or "iPhone" in ua:
        device = "mobile"
    else:
        device = "desktop"
    return {"browser": browser, "os": os_name, "device": device}
