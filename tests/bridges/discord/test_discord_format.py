"""How items read in Discord: escaping, splitting, names."""

from __future__ import annotations

from discord_helpers import card, item

from pocketping.bridges.discord.format import (
    display_name,
    escape_markdown,
    render_card,
    render_item,
    split_content,
    thread_name,
    utf16_len,
)


def test_markdown_and_mentions_show_literally_but_links_stay_links():
    assert escape_markdown("**bold** _it_ ~~x~~ `code` ||spoiler||") == \
        r"\*\*bold\*\* \_it\_ \~\~x\~\~ \`code\` \|\|spoiler\|\|"
    assert escape_markdown("@everyone <@123> <#456> <t:1700000000>") == \
        r"\@everyone \<\@123\> \<#456\> \<t:1700000000\>"
    assert escape_markdown("see https://shop.example/a_b?c=*d*") == "see https://shop.example/a_b?c=*d*"
    assert escape_markdown("[free money](https://evil.example)") == r"\[free money\](https://evil.example)"
    assert escape_markdown("# Title\n- item\n12. twelve\n> quote") == "\\# Title\n\\- item\n12\\. twelve\n\\> quote"
    assert escape_markdown(r"C:\path") == r"C:\\path"


def test_parts_fit_in_2000_utf16_units_and_keep_everything():
    text = "😀" * 1500  # 3,000 UTF-16 units
    parts = split_content(text)
    assert all(utf16_len(p) <= 2000 for p in parts)
    assert "".join(parts) == text


def test_a_split_never_separates_an_escape_from_its_character():
    text = escape_markdown("*" * 1500)  # 3,000 characters of "\*"
    parts = split_content(text)
    assert all(not p.startswith("*") for p in parts)
    assert "".join(parts) == text


def test_items_and_cards():
    assert render_item(item("hi *there*", author="Sarah (via Slack)", kind="operator")) == \
        r"**Sarah (via Slack):** hi \*there\*"
    assert render_item(item("The conversation was closed", kind="notice")) == "*The conversation was closed*"
    rendered = render_card(card(title="Ada_Lovelace"))
    assert rendered.startswith(r"**New conversation: Ada\_Lovelace**")
    assert "**Page:** https://shop.example/pricing" in rendered


def test_thread_names_fit_discords_limit():
    assert thread_name("a\nb") == "a b"
    assert len(thread_name("x" * 300)) == 100
    assert thread_name("   ") == "Visitor"


def test_display_names_prefer_the_server_nickname():
    user = {"username": "sarah_c", "global_name": "Sarah"}
    assert display_name({"nick": "Sarah (Support)"}, user) == "Sarah (Support)"
    assert display_name({"nick": None}, user) == "Sarah"
    assert display_name(None, {"username": "sarah_c", "global_name": None}) == "sarah_c"
