"""What an answer to a reply mail says (pure): the token of its address, and its own text
without the quoted history and the signature."""

from __future__ import annotations

import re
from email.message import EmailMessage
from html.parser import HTMLParser

MAX_TEXT_BYTES = 1_000_000  # mail over 1 MB of text is refused

_ADDRESS = re.compile(r"reply\+([a-z2-7]{24})@(.+)", re.IGNORECASE)

# Where a mail client starts quoting (Gmail, Apple Mail, Outlook, Thunderbird) in the six locales.
_QUOTE_HEADERS = [re.compile(p, re.IGNORECASE) for p in (
    r"^on\b.*\bwrote:\s*$",
    r"^le\b.*\ba écrit\s*:\s*$",
    r"^am\b.*\bschrieb\b.*:\s*$",
    r"^el\b.*\bescribió:\s*$",
    r"^em\b.*\bescreveu:\s*$",
    r".*كتب.*:\s*$",
    r"^-{2,}\s*(original message|message d'origine|ursprüngliche nachricht|mensaje original|mensagem original)",
    r"^_{10,}\s*$",  # Outlook's rule above the quoted headers
    r"^(from|de|von|desde):\s.*@",  # a header block of the quoted mail
)]
_SIGNATURE = re.compile(r"^(-- ?|—\s*|sent from my .*|envoyé de mon .*|von meinem .* gesendet|enviado desde mi .*)$",
                        re.IGNORECASE)


def reply_token(address: str, reply_domain: str) -> str | None:
    """The token of ``reply+<token>@<reply domain>``, lowercased; None for any other address."""
    match = _ADDRESS.fullmatch(address.strip().strip("<>"))
    if match is None or match.group(2).lower() != reply_domain.lower():
        return None
    return match.group(1).lower()


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script", "head") or (tag == "blockquote"):
            self._skip += 1
        elif tag in ("br", "p", "div", "tr", "li"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "head", "blockquote"):
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    if part is not None:
        return str(part.get_content())
    part = message.get_body(("html",))
    if part is None:
        return ""
    parser = _Text()
    parser.feed(str(part.get_content()))
    return "".join(parser.parts)


def own_text(body: str) -> str:
    """The answer itself: everything above the first quote header, quoted line or signature."""
    kept: list[str] = []
    for line in body.replace("\r\n", "\n").split("\n"):
        bare = line.strip()
        if bare.startswith(">") or _SIGNATURE.match(bare) or any(p.match(bare) for p in _QUOTE_HEADERS):
            break
        kept.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def reply_text(message: EmailMessage) -> str:
    return own_text(_body(message))
