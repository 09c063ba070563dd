"""Turning documents into searchable chunks: HTML to text, chunking, and the terms BM25 ranks.

Pure functions, the same on every database: the index stores what ``terms`` returns.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser

# Small stop-word lists (English, French, Spanish, German, Portuguese): words that match
# everything and so say nothing about relevance.
STOPWORDS = frozenset("""
a an and are as at be been but by can could did do does for from had has have how i if in into is it its
just me my no not of on or our so than that the their them then there these they this to too us was we
were what when where which who why will with would you your yours please hi hello hey thanks thank
le la les un une des du de et est en que qui dans pour pas sur au aux ce ces il elle nous vous ils je tu
mon ma mes ton ta vos votre son sa ses ne se avec par plus ou bonjour merci
el los las una unos unas y es en que por con para del al lo como mas pero sus le ya o hola gracias
der die das ein eine und ist im zu den mit von auf fur nicht sich des dem ich sie es wir ihr hallo danke
o os um uma e em que por com para do da dos das no na nao ola obrigado
""".split())

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERM = 64


def fold(text: str) -> str:
    """Lower case without accents, so 'Crème' finds 'creme'."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def stem(word: str) -> str:
    """A deliberately light stemmer: plurals only. Aggressive stemming hurts precision on the
    short, specific questions visitors ask (prices, plan names, error codes)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    """The index terms of a text, in order (repeats kept: they are term frequencies)."""
    out = []
    for word in _WORD.findall(fold(text)):
        if word in STOPWORDS or len(word) > MAX_TERM or (len(word) == 1 and not word.isdigit()):
            continue
        out.append(stem(word))
    return out


def term_counts(text: str) -> Counter[str]:
    return Counter(terms(text))


# Field terms: a chunk's page title and headings are indexed twice, once with the text (the
# plain term) and once more under a prefix, so that ranking can weigh a match there more
# (BM25F). A plain term never holds ':' (terms are \w+), so the prefixes cannot collide.
TITLE = "t:"
HEADING = "h:"
FIELDS = (TITLE, HEADING)


def index_terms(title: str, heading: str, text: str) -> Counter[str]:
    """What a chunk is indexed under: the terms of its title, headings and text together,
    plus the title's and its own heading's terms as field terms."""
    counts = Counter(terms(f"{title}\n{heading}\n{text}"))
    # The heading field is the chunk's own heading: the ones above it (the page's h1 is
    # often its title) are shared with its neighbours and would say little.
    own = heading.rsplit(" > ", 1)[-1]
    for prefix, field in ((TITLE, title), (HEADING, own)):
        counts.update(prefix + t for t in terms(field) if len(t) + len(prefix) <= MAX_TERM)
    return counts


def is_field_term(term: str) -> bool:
    return ":" in term


def estimate_tokens(text: str) -> int:
    """About four characters a token for English; a little generous for other languages."""
    return len(text) // 4 + 1


# --- HTML -----------------------------------------------------------------------------------

_SKIP = {"script", "style", "noscript", "template", "svg", "nav", "footer", "iframe", "object", "canvas",
         "form", "button", "select"}
_BLOCK = {"p", "div", "section", "article", "main", "br", "tr", "table", "ul", "ol", "dl", "dt", "dd",
          "blockquote", "pre", "header", "aside", "figure", "figcaption", "hr", "details", "summary"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_VOID = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "track", "wbr"}


# Boilerplate that is not a tag of its own: cookie and consent banners, ARIA landmarks for
# navigation, site header and footer.
_BOILERPLATE = re.compile(r"cookie|consent|gdpr", re.IGNORECASE)
_BOILERPLATE_ROLES = {"navigation", "banner", "contentinfo", "search", "dialog", "alertdialog"}
_MAIN = {"main", "article"}


def _boilerplate(tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    if tag in _SKIP:
        return True
    values = dict(attrs)
    if (values.get("role") or "").lower() in _BOILERPLATE_ROLES or values.get("aria-hidden") == "true":
        return True
    return bool(_BOILERPLATE.search(f"{values.get('id') or ''} {values.get('class') or ''}"))


class _Extractor(HTMLParser):
    """Text with Markdown headings; when the page marks its main content (``<main>``,
    ``<article>``), that alone as well (``main_parts``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.main_parts: list[str] = []
        self.title = ""
        self._skipping: list[tuple[str, int]] = []  # a skipped element's tag, and how many of it are open
        self._main = 0
        self._in_title = False
        self._heading: int | None = None

    def _add(self, text: str) -> None:
        self.parts.append(text)
        if self._main:
            self.main_parts.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skipping:
            top, open_ = self._skipping[-1]
            if tag == top:
                self._skipping[-1] = (top, open_ + 1)
            return
        if tag != "title" and _boilerplate(tag, attrs):
            if tag not in _VOID:
                self._skipping.append((tag, 1))
            return
        if tag in _MAIN:
            self._main += 1
        if tag == "title":
            self._in_title = True
        elif tag in _HEADINGS:
            self._heading = _HEADINGS[tag]
            self._add("\n\n" + "#" * _HEADINGS[tag] + " ")
        elif tag == "li":
            self._add("\n- ")
        elif tag in ("td", "th"):
            self._add(" | ")
        elif tag in _BLOCK:
            self._add("\n\n" if tag != "br" else "\n")

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            top, open_ = self._skipping[-1]
            if tag == top:
                if open_ > 1:
                    self._skipping[-1] = (top, open_ - 1)
                else:
                    self._skipping.pop()
            return
        if tag == "title":
            self._in_title = False
        elif tag in _HEADINGS:
            self._heading = None
            self._add("\n\n")
        elif tag in _BLOCK:
            self._add("\n\n")
        if tag in _MAIN:
            self._main = max(0, self._main - 1)

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
            return
        if self._skipping:
            return
        text = re.sub(r"\s+", " ", data)
        if self._heading is not None:
            text = text.replace("\n", " ")
        self._add(text)


def html_to_text(html: str) -> tuple[str, str]:
    """(title, text) of an HTML page: headings become Markdown headings; navigation, footers,
    cookie banners and scripts go; the page's main content alone when it marks it."""
    parser = _Extractor()
    parser.feed(html)
    parser.close()
    main = "".join(parser.main_parts)
    text = main if main.strip() else "".join(parser.parts)
    lines = [line.strip() for line in text.splitlines()]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return " ".join(parser.title.split()), text


# --- chunking -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Chunk:
    heading: str  # "Shipping > International": where in the document it sits
    text: str


_HEADING_LINE = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _split_long(block: str, limit: int) -> list[str]:
    if len(block) <= limit:
        return [block]
    pieces: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(block):
        while len(sentence) > limit:  # one enormous "sentence": cut at a space
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            if current:
                pieces.append(current)
                current = ""
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if current and len(current) + 1 + len(sentence) > limit:
            pieces.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        pieces.append(current)
    return pieces


def chunk_text(text: str, *, target_chars: int = 1200, max_chunks: int = 5000) -> list[Chunk]:
    """Split a Markdown-ish text into chunks of about ``target_chars``, never across a heading,
    each remembering the headings above it (they are searched too, and shown to the model)."""
    chunks: list[Chunk] = []
    path: list[tuple[int, str]] = []
    blocks: list[str] = []

    def flush() -> None:
        heading = " > ".join(title for _, title in path)
        current = ""
        for block in blocks:
            for piece in _split_long(block, target_chars):
                if current and len(current) + 2 + len(piece) > target_chars:
                    chunks.append(Chunk(heading, current))
                    current = piece
                else:
                    current = f"{current}\n\n{piece}" if current else piece
        if current:
            chunks.append(Chunk(heading, current))
        blocks.clear()

    paragraph: list[str] = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.rstrip()
        match = _HEADING_LINE.match(line)
        if match:
            if paragraph:
                blocks.append("\n".join(paragraph))
                paragraph = []
            flush()
            level, title = len(match.group(1)), match.group(2).strip()[:200]
            path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, title)]
            continue
        if not line.strip():
            if paragraph:
                blocks.append("\n".join(paragraph))
                paragraph = []
            continue
        paragraph.append(line)
    if paragraph:
        blocks.append("\n".join(paragraph))
    flush()
    return chunks[:max_chunks]
