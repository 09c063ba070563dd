"""Pure rules: origins, events, tokens, user agents, rate limits."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pocketping import tokens
from pocketping.clock import FakeClock
from pocketping.core.rules import check_event, clean_text, normalize_origin, origin_allowed
from pocketping.core.useragent import parse_user_agent
from pocketping.crypto import Keyring, generate_key
from pocketping.errors import InvalidInput
from pocketping.ratelimit import RateLimiter


@pytest.mark.parametrize("given_, expected", [
    ("https://Shop.Example.com/", "https://shop.example.com"),
    ("https://shop.example.com:443", "https://shop.example.com"),
    ("http://localhost:3000", "http://localhost:3000"),
    ("http://localhost:80", "http://localhost"),
    ("https://*.example.com", "https://*.example.com"),
])
def test_origin_normalization(given_, expected):
    assert normalize_origin(given_) == expected


@pytest.mark.parametrize("bad", ["example.com", "ftp://example.com", "https://example.com/path", "https://",
                                 "javascript:alert(1)", "https://x.com?q=1"])
def test_bad_origins_are_refused(bad):
    with pytest.raises(InvalidInput):
        normalize_origin(bad)


labels = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)


@settings(deadline=None)  # a loaded CI machine must not turn slowness into failure
@given(sub=labels, host=labels, other=labels)
def test_wildcards_match_subdomains_only(sub, host, other):
    allowed = (normalize_origin(f"https://*.{host}.com"),)
    assert origin_allowed(f"https://{sub}.{host}.com", allowed)
    assert not origin_allowed(f"https://{host}.com", allowed)
    assert not origin_allowed(f"http://{sub}.{host}.com", allowed)
    assert not origin_allowed(f"https://{sub}.{host}.com:8443", allowed)
    if other != host:
        assert not origin_allowed(f"https://{sub}.{other}.com", allowed)
        assert not origin_allowed(f"https://{host}.com.{other}.com", allowed)


def test_no_origins_configured_means_any():
    assert origin_allowed("https://anything.test", ())
    assert origin_allowed(None, ())
    assert not origin_allowed(None, ("https://a.test",))


def test_text_and_event_rules():
    assert clean_text("a\r\nb\x00", 10) == "a\nb"
    with pytest.raises(InvalidInput) as exc:
        clean_text("é" * 11, 10)
    assert exc.value.code == "text_too_long"
    assert check_event("a.b:c-d_e", None) == ("a.b:c-d_e", {})
    for name in ("", "x" * 65, "sp ace", "ünïcode", 5):
        with pytest.raises(InvalidInput):
            check_event(name, {})


@settings(deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_tokens_never_raise_and_only_verify_when_signed(garbage):
    ring = Keyring((base64.b64decode(generate_key()),))
    assert tokens.read(ring, garbage) is None
    good = tokens.issue(ring, "proj_a", "sess_b", "vis_c")
    assert tokens.read(ring, good) == tokens.SessionToken("proj_a", "sess_b", "vis_c")
    other = Keyring((base64.b64decode(generate_key()),))
    assert tokens.read(other, good) is None


@pytest.mark.parametrize("ua, expected", [
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.1 Mobile/15E148 Safari/604.1", ("Safari 17", "iOS", "mobile")),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Safari/537.36 Edg/131.0.2903.70", ("Edge 131", "Windows", "desktop")),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", ("Firefox 133", "Linux", "desktop")),
    ("Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Safari/537.36", ("Chrome 131", "Android", "tablet")),
    ("Googlebot/2.1 (+http://www.google.com/bot.html)", ("Unknown", "Unknown", "bot")),
    (None, ("Unknown", "Unknown", "unknown")),
])
def test_user_agents(ua, expected):
    parsed = parse_user_agent(ua)
    assert (parsed["browser"], parsed["os"], parsed["device"]) == expected


def test_rate_limiter_refills_with_the_clock():
    clock = FakeClock()
    limiter = RateLimiter(2, clock)
    assert limiter.hit("v") is None and limiter.hit("v") is None
    retry = limiter.hit("v")
    assert retry is not None and 0 < retry <= 30
    assert limiter.hit("other") is None
    clock.advance(30)
    assert limiter.hit("v") is None
    assert RateLimiter(0, clock).hit("v") is None
