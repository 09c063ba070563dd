"""The pure parts of the budget: reading the providers' usage fields, the limits, the settings."""

from __future__ import annotations

import pytest

from pocketping.ai.usage import Tokens, chat_tokens, embedding_tokens, metering, record_tokens
from pocketping.core.ai import AISettings, apply_changes, limit_reached
from pocketping.errors import InvalidInput


def test_usage_fields_of_each_provider():
    assert chat_tokens("openai", {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
                       estimate=(1, 1)) == Tokens(input=120, output=30)
    assert chat_tokens("openai", {"total_tokens": 77}, estimate=(1, 1)) == Tokens(input=77)
    assert chat_tokens("anthropic", {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 100,
                                     "cache_creation_input_tokens": 20}, estimate=(1, 1)) == Tokens(130, 5)
    # None reported: the estimate; nonsense values count as none.
    assert chat_tokens("openai", {}, estimate=(40, 9)) == Tokens(input=40, output=9)
    assert chat_tokens("anthropic", None, estimate=(40, 9)) == Tokens(input=40, output=9)
    assert chat_tokens("openai", {"prompt_tokens": "lots", "completion_tokens": -3}, estimate=(4, 4)) == Tokens()
    assert embedding_tokens({"prompt_tokens": 8, "total_tokens": 8}, estimate=1) == Tokens(embedding=8)
    assert embedding_tokens({}, estimate=3) == Tokens(embedding=3)
    assert Tokens(1, 2, 3).total == 6 and Tokens(1, 2, 3) + Tokens(1, 1, 1) == Tokens(2, 3, 4)


def test_the_meter_counts_only_inside_metering():
    record_tokens(Tokens(5, 5))  # outside: nowhere
    with metering() as meter:
        record_tokens(Tokens(input=3))
        record_tokens(Tokens(output=2, embedding=1))
        assert meter.tokens == Tokens(3, 2, 1)
        assert meter.take() == Tokens(3, 2, 1) and meter.tokens == Tokens()


def test_limits_in_order():
    s = AISettings(project_id="p", max_replies_per_session=2, max_replies_per_day=10, daily_tokens=1000)
    assert limit_reached(s, 1, {"replies": 9, "tokens": 999}) is None
    assert limit_reached(s, 2, {"replies": 10, "tokens": 1000}) == "session_limit"
    assert limit_reached(s, 1, {"replies": 10, "tokens": 1000}) == "daily_limit"
    assert limit_reached(s, 1, {"replies": 3, "tokens": 1000}) == "token_budget"
    off = AISettings(project_id="p", max_replies_per_session=0, max_replies_per_day=0, daily_tokens=0)
    assert limit_reached(off, 10**6, {"replies": 10**6, "tokens": 10**9}) is None


def test_budget_settings():
    s = apply_changes(AISettings(project_id="p"), {"max_answers": 5, "daily_tokens": 200_000})
    assert (s.max_replies_per_session, s.daily_tokens) == (5, 200_000)
    assert s.to_api()["maxAnswers"] == 5 and s.to_api()["dailyTokens"] == 200_000
    assert apply_changes(s, {"max_answers": 3, "max_replies_per_session": 3}).max_replies_per_session == 3
    for bad in ({"daily_tokens": -1}, {"daily_tokens": 1.5}, {"max_answers": True},
                {"max_answers": 3, "max_replies_per_session": 4}):
        with pytest.raises(InvalidInput) as err:
            apply_changes(s, bad)
        assert err.value.code == "invalid_setting"
