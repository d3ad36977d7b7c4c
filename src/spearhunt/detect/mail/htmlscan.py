"""What an HTML body or attachment holds, read with the stdlib tokenizer (nothing is rendered).

html.parser is lenient on broken markup and needs no extra dependency; every list is capped so a
hostile page cannot grow the scan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

MAX_ITEMS = 500
_HIDDEN = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?![.\d])", re.I)
# Inline styles that keep text from a reader while filters still read it (salad, split words).
_HIDING_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*[01](?:\.\d+)?(?:px|pt)?\s*(?:;|$|!)|"
    r"opacity\s*:\s*0(?:\.0+)?\s*(?:;|$|!)",
    re.I,
)
_VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }
)
_BLOCK = frozenset(
    {
        "p",
        "div",
        "br",
        "td",
        "th",
        "tr",
        "li",
        "ul",
        "ol",
        "table",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "header",
        "footer",
        "blockquote",
        "center",
        "hr",
        "pre",
        "title",
    }
)
MAX_STACK = 1000


@dataclass(slots=True)
class HtmlFacts:
    """Anchors, forms, scripts and visible text of one page."""

    anchors: list[tuple[str, str]] = field(default_factory=list)  # (href, visible text)
    form_actions: list[str] = field(default_factory=list)
    password_inputs: int = 0
    scripts: list[str] = field(default_factory=list)
    refresh: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    iframes: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)  # text inside elements styled to be invisible


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.facts = HtmlFacts()
        self._href: str | None = None
        self._anchor_text: list[str] = []
        self._in_script = False
        self._skip = 0  # inside <style>/<head> text that is never shown
        self._stack: list[tuple[str, bool]] = []  # open elements and whether each hides its content
        self._hiding = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        f = self.facts
        if tag in _BLOCK and len(f.text) < 20_000:
            f.text.append("\n")
        if tag not in _VOID and len(self._stack) < MAX_STACK:
            hides = "hidden" in a or bool(_HIDING_STYLE.search(a.get("style", "")))
            self._stack.append((tag, hides))
            self._hiding += hides
        if tag == "a" and "href" in a:
            self._href = a["href"].strip()
            self._anchor_text = []
        elif tag == "form" and len(f.form_actions) < MAX_ITEMS:
            f.form_actions.append(a.get("action", ""))
        elif tag == "input" and a.get("type", "").lower() == "password":
            f.password_inputs += 1
        elif tag == "script":
            self._in_script = True
            if a.get("src") and len(f.scripts) < MAX_ITEMS:
                f.scripts.append(f"src={a['src']}")
        elif tag == "meta" and a.get("http-equiv", "").lower() == "refresh":
            f.refresh.append(a.get("content", ""))
        elif tag in ("iframe", "embed", "object") and len(f.iframes) < MAX_ITEMS:
            f.iframes.append(a.get("src") or a.get("data", ""))
        elif tag in ("style", "title"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if any(t == tag for t, _ in self._stack):
            while self._stack:
                t, hides = self._stack.pop()
                self._hiding -= hides
                if t == tag:
                    break
        if tag in _BLOCK and len(self.facts.text) < 20_000:
            self.facts.text.append("\n")
        if tag == "a" and self._href is not None:
            if len(self.facts.anchors) < MAX_ITEMS:
                self.facts.anchors.append(
                    (self._href, " ".join("".join(self._anchor_text).split())[:300])
                )
            self._href = None
        elif tag == "script":
            self._in_script = False
        elif tag in ("style", "title") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if self._in_script:
            if len(self.facts.scripts) < MAX_ITEMS:
                self.facts.scripts.append(data[:200_000])
            return
        if self._skip:
            return
        if self._hiding:
            if data.strip() and len(self.facts.hidden) < MAX_ITEMS:
                self.facts.hidden.append(data[:2000])
            return
        if self._href is not None:
            self._anchor_text.append(data)
        if data and len(self.facts.text) < 20_000:
            self.facts.text.append(data if data.strip() else " ")


def scan_html(markup: str) -> HtmlFacts:
    """Facts of a page; broken markup gives partial facts, never an error."""
    scanner = _Scanner()
    try:
        scanner.feed(markup[:2_000_000])
        scanner.close()
    except (AssertionError, ValueError, IndexError):  # html.parser on pathological input
        pass
    if scanner._href is not None and len(scanner.facts.anchors) < MAX_ITEMS:
        scanner.facts.anchors.append(
            (scanner._href, " ".join("".join(scanner._anchor_text).split())[:300])
        )
    return scanner.facts


def visible_text(facts: HtmlFacts) -> str:
    """The page's text as a reader would see it (roughly: hidden styling is not evaluated)."""
    return " ".join("".join(facts.text).split())


def has_hidden_styling(markup: str) -> bool:
    """Whether the page hides some of its content with CSS."""
    return bool(_HIDDEN.search(markup[:2_000_000]))
