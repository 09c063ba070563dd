"""The pure parts: text extraction, chunking, ranking, prompt budgets, request shapes, rules."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from pocketping.ai import providers
from pocketping.ai.prompt import Prompt, Turn, clean_answer, conversation, question, system_prompt
from pocketping.ai.retrieval import bm25
from pocketping.ai.text import chunk_text, html_to_text, terms
from pocketping.core.ai import AISettings, KbHit, apply_changes
from pocketping.core.models import Message
from pocketping.errors import InvalidInput


def msg(seq: int, sender: str, text: str, kind: str = "message") -> Message:
    return Message(id=f"m{seq}", session_id="s", seq=seq, kind=kind, sender=sender, source="x",  # type: ignore[arg-type]
                   text=text, created_at=datetime(2030, 1, 1, tzinfo=UTC))


def test_html_keeps_the_content_and_drops_the_chrome():
    title, text = html_to_text(
        "<html><head><title> Help | Acme </title><style>p{}</style></head><body><nav>Home Shop</nav>"
        "<h1>Shipping</h1><p>We ship <b>fast</b> &amp; free.</p><script>alert(1)</script>"
        "<h2>Abroad</h2><ul><li>Spain</li><li>Italy</li></ul><footer>© Acme</footer></body></html>")
    assert title == "Help | Acme"
    assert text == "# Shipping\n\nWe ship fast & free.\n\n## Abroad\n\n- Spain\n- Italy"


def test_chunks_follow_headings_and_size():
    text = "# Guide\n\nIntro.\n\n## Install\n\n" + "Step one is easy. " * 200 + "\n\n## Use\n\nJust use it."
    chunks = chunk_text(text, target_chars=500)
    assert chunks[0].heading == "Guide" and chunks[0].text == "Intro."
    install = [c for c in chunks if c.heading == "Guide > Install"]
    assert len(install) > 5 and all(len(c.text) <= 500 for c in install)
    assert chunks[-1].heading == "Guide > Use" and chunks[-1].text == "Just use it."


def test_terms_fold_case_accents_plurals_and_stopwords():
    assert terms("The Crèmes brûlées, and CAFÉS!") == ["creme", "brulee", "cafe"]
    assert terms("What are your shipping costs?") == ["shipping", "cost"]


def test_bm25_prefers_rare_terms_and_short_chunks():
    # chunk 1 mentions "refund" once in a short text; chunk 2 only has the common word.
    postings = [(1, "refund", 1, 10), (1, "order", 1, 10), (2, "order", 3, 10), (3, "order", 1, 10)]
    scores = bm25(postings, {"refund": 1, "order": 3}, Counter({"refund": 1, "order": 1}), 3, 10.0)
    assert max(scores, key=lambda k: scores[k]) == 1
    long_short = bm25([(1, "x", 1, 5), (2, "x", 1, 50)], {"x": 2}, Counter({"x": 1}), 10, 20.0)
    assert long_short[1] > long_short[2]


def test_conversation_alternates_starts_with_the_visitor_and_fits_the_budget():
    history = [msg(1, "ai", "Welcome!"), msg(2, "visitor", "hi"), msg(3, "visitor", "price?"),
               msg(4, "system", "Conversation closed", kind="notice"), msg(5, "operator", "10 EUR"),
               msg(6, "visitor", "thanks, and shipping?")]
    assert conversation(history, 1000) == (Turn("user", "hi\n\nprice?"), Turn("assistant", "10 EUR"),
                                           Turn("user", "thanks, and shipping?"))
    assert conversation(history, 12) == (Turn("user", "thanks, and shipping?"),)
    assert conversation([msg(1, "visitor", "q"), msg(2, "ai", "a")], 1000) == ()  # nothing waiting
    huge = conversation([msg(1, "visitor", "x" * 10_000)], 100)
    assert len(huge[0].content) <= 400
    assert question((Turn("user", "Do you ship to France?"), Turn("assistant", "Yes"),
                     Turn("user", "and Spain?"))) == "Do you ship to France?\nand Spain?"


def test_system_prompt_tells_the_model_what_to_do_without_knowledge():
    hit = KbHit(1, "kbs_1", "FAQ", "https://acme.test/faq", "Shipping", "We ship to Spain.", 2.0)
    with_hit = system_prompt("Acme", None, [hit])
    assert with_hit.startswith("You are the friendly support assistant of Acme.")
    assert "[1] Source: FAQ (https://acme.test/faq), section: Shipping\nWe ship to Spain." in with_hit
    without = system_prompt("Acme", "Custom rules.", [])
    assert without.startswith("Custom rules.") and "nothing relevant" in without and "don't know" in without
    greeted = system_prompt("Acme", None, [], small_talk=True)
    assert "small talk" in greeted and "nothing relevant" not in greeted


def test_answers_are_cut_at_a_word():
    assert clean_answer("  fine  ", 100) == "fine"
    assert clean_answer("\x00hi\x07 there\r\n", 100) == "hi there"
    assert clean_answer("\x00 \x1b", 100) == ""
    cut = clean_answer("alpha beta gamma delta", 12)
    assert cut == "alpha beta…" and len(cut) <= 12


def test_request_shapes_per_provider():
    prompt = Prompt("SYS", (Turn("user", "hi"),), ())
    official = providers.openai_call("https://api.openai.com/v1", "gpt-4o-mini", prompt, api_key="k",
                                     max_tokens=50, temperature=None)
    assert official.url == "https://api.openai.com/v1/chat/completions"
    assert official.body == {"model": "gpt-4o-mini", "max_completion_tokens": 50,
                             "messages": [{"role": "system", "content": "SYS"}, {"role": "user", "content": "hi"}]}
    ollama = providers.openai_call("http://localhost:11434/v1/", "llama3.2", prompt, api_key=None, max_tokens=50,
                                   temperature=0.5)
    assert ollama.url == "http://localhost:11434/v1/chat/completions"
    assert "authorization" not in {k.lower() for k in ollama.headers}
    assert ollama.body["max_tokens"] == 50 and ollama.body["temperature"] == 0.5
    claude = providers.anthropic_call("https://api.anthropic.com", "claude", prompt, api_key="k", max_tokens=50,
                                      temperature=None)
    assert claude.url == "https://api.anthropic.com/v1/messages"
    assert claude.headers["anthropic-version"] == "2023-06-01" and claude.headers["x-api-key"] == "k"
    assert claude.body == {"model": "claude", "max_tokens": 50, "system": "SYS",
                           "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(providers.ModelError) as err:
        providers.anthropic_call("https://api.anthropic.com", "claude", prompt, api_key=None, max_tokens=5,
                                 temperature=None)
    assert err.value.code == "model_no_key"


def test_answers_that_are_not_answers_are_errors():
    with pytest.raises(providers.ModelError):
        providers.parse_openai({"choices": []})
    with pytest.raises(providers.ModelError):
        providers.parse_openai({"choices": [{"message": {"content": None}}]})
    assert providers.parse_anthropic({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
                                     ).text == "ab"


def test_settings_rules():
    base = AISettings(project_id="p")
    assert apply_changes(base, {"delay_seconds": 0}).delay_seconds == 0
    on = apply_changes(base, {"enabled": True, "model": "m", "base_url": "http://localhost:11434/v1/"})
    assert on.base_url == "http://localhost:11434/v1"
    for changes, code in (({"enabled": True}, "model_required"), ({"delay_seconds": -1}, "invalid_delay"),
                          ({"provider": "x"}, "invalid_provider"), ({"base_url": "file:///etc"}, "invalid_base_url"),
                          ({"api_key_env": "NOT VALID"}, "invalid_setting"),
                          ({"timeout_seconds": 0}, "invalid_setting"), ({"nope": 1}, "invalid_setting")):
        with pytest.raises(InvalidInput) as err:
            apply_changes(base, changes)
        assert err.value.code == code, changes
