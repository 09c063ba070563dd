"""Slack text both ways: escaping what visitors write, reading what operators write."""

from __future__ import annotations

from pocketping.bridges.slack.format import card_message
from pocketping.bridges.slack.text import (
    escape,
    message_text,
    plain_from_blocks,
    plain_from_text,
    plain_message,
    split_text,
)

from .conftest import make_card


def test_control_sequences_are_escaped_so_they_notify_nobody() -> None:
    text = message_text("Visitor", "hi <!channel> <!here> <!everyone> <@U024BE7LH> <#C123> & <https://evil|x>")
    assert "<" not in text and ">" not in text
    assert text == ("*Visitor*: hi &lt;!channel&gt; &lt;!here&gt; &lt;!everyone&gt; &lt;@U024BE7LH&gt; "
                    "&lt;#C123&gt; &amp; &lt;https://evil|x&gt;")


def test_author_names_are_escaped_too() -> None:
    assert message_text("<!here> *Eve*", "hello") == "*&lt;!here&gt; Eve*: hello"


def test_long_text_is_split_at_4000_without_losing_anything() -> None:
    words = " ".join(f"word{i}" for i in range(3000))  # ~26,000 characters
    parts = split_text(escape(words))
    assert len(parts) == 7
    assert all(0 < len(p) <= 4000 for p in parts)
    assert " ".join(parts).split() == words.split()


def test_a_split_never_cuts_an_entity_in_half() -> None:
    text = escape("x" * 3998 + "&&&&")
    parts = split_text(text)
    assert all(len(p) <= 4000 for p in parts)
    for part in parts:
        assert part.count("&") == part.count(";"), part[-10:]
    assert "".join(parts) == text


def test_short_text_is_one_part() -> None:
    assert split_text("hello") == ["hello"]
    assert split_text("") == [""]


def test_operator_text_as_the_visitor_should_read_it() -> None:
    names = {"U1": "Sarah"}
    assert plain_from_text("a &lt;b&gt; &amp; c", names) == "a <b> & c"
    assert plain_from_text("thanks <@U1>!", names) == "thanks @Sarah!"
    assert plain_from_text("see <https://example.com/a?b=1&amp;c=2|the docs>", names) == \
        "see the docs (https://example.com/a?b=1&c=2)"
    assert plain_from_text("<https://example.com>", names) == "https://example.com"
    assert plain_from_text("<mailto:a@b.co|a@b.co> <#C1|general> <!here>", names) == "a@b.co #general @here"


def test_rich_text_blocks_when_text_is_empty() -> None:
    blocks = [{"type": "rich_text", "elements": [
        {"type": "rich_text_section", "elements": [
            {"type": "text", "text": "Hi "}, {"type": "user", "user_id": "U1"},
            {"type": "text", "text": ", try "}, {"type": "link", "url": "https://x.io", "text": "this"},
            {"type": "emoji", "name": "wave", "unicode": "1f44b"}]},
        {"type": "rich_text_list", "style": "ordered", "elements": [
            {"type": "rich_text_section", "elements": [{"type": "text", "text": "one"}]},
            {"type": "rich_text_section", "elements": [{"type": "text", "text": "two"}]}]},
        {"type": "rich_text_quote", "elements": [{"type": "text", "text": "quoted"}]},
        {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": "a < b"}]},
    ]}]
    expected = "Hi @Sarah, try this (https://x.io)👋\n1. one\n2. two\n> quoted\na < b"
    assert plain_from_blocks(blocks, {"U1": "Sarah"}) == expected
    assert plain_message({"text": "", "blocks": blocks}, {"U1": "Sarah"}) == expected
    # With text present, text wins (it is what every client shows).
    assert plain_message({"text": "hello &amp; bye", "blocks": blocks}, {}) == "hello & bye"


def test_files_are_named() -> None:
    assert plain_message({"text": "here", "files": [{"name": "invoice.pdf"}]}, {}) == "here\n[file: invoice.pdf]"


def test_card_escapes_visitor_facts_and_keeps_the_title_plain() -> None:
    card = make_card(title="Eve <!channel>", lines=(("Page", "https://x.io/?a=1&b=<2>"), ("Empty", "")),
                     link="https://chat.example.com/inbox/sess_1")
    text, blocks = card_message(card)
    assert text == "New conversation: Eve &lt;!channel&gt;"
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "Eve <!channel>", "emoji": False}}
    assert blocks[1]["fields"] == [{"type": "mrkdwn", "text": "*Page*\nhttps://x.io/?a=1&amp;b=&lt;2&gt;"}]
    assert "<https://chat.example.com/inbox/sess_1|Open in PocketPing>" in blocks[2]["elements"][0]["text"]
