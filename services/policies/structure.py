"""Policy page structure: which required section headings a storage-format body lacks.

Confluence's storage format is XHTML with ``ac:``/``ri:`` macro elements. It is read with
the standard library's HTML parser (a tokenizer that tolerates unknown tags, entities and
CDATA), never with regular expressions over markup. A section is present when some
``<h1>``…``<h6>`` heading's text — markup inside the heading ignored, whitespace
collapsed, case-insensitive, a leading section number such as ``1.`` or ``2.1`` and a
trailing colon ignored — equals the section name.
"""

from __future__ import annotations

from html.parser import HTMLParser

REQUIRED_SECTIONS = ("Purpose", "Scope", "Policy")
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


class _HeadingCollector(HTMLParser):
    """Collects the text of every heading element, including text in nested elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headings: list[str] = []
        self._open: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HEADINGS and self._open is None:
            self._open, self._text = tag, []

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            self.headings.append("".join(self._text))
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)


def headings(body: str) -> list[str]:
    """The text of every heading of a storage-format body, in document order."""
    parser = _HeadingCollector()
    parser.feed(body)
    parser.close()
    return parser.headings


def _section_name(heading: str) -> str:
    words = heading.split()
    if words and words[0].rstrip(".)").replace(".", "").isdigit():
        words = words[1:]
    return " ".join(words).rstrip(":").strip().casefold()


def missing_sections(
    body: str | None, required: tuple[str, ...] = REQUIRED_SECTIONS
) -> tuple[str, ...]:
    """The required sections no heading of ``body`` names (all of them for no body)."""
    if not body:
        return required
    present = {_section_name(h) for h in headings(body)}
    return tuple(s for s in required if s.casefold() not in present)
