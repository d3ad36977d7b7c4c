"""What an HTML body or attachment holds, read the way a browser builds it (nothing is rendered).

Phishing pages lean on how browsers repair broken markup (unclosed anchors, stray end tags, forms
inside tables): a tokenizer that is not an HTML5 parser sees another page than the reader does. The
tree comes from lexbor (selectolax), an HTML5-conformant parser in C; every list is capped and the
walk is iterative and bounded, so a hostile page cannot grow the scan or the stack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser, LexborNode

MAX_ITEMS = 500
MAX_NODES = 200_000
MAX_TEXT_PIECES = 20_000
_HIDDEN = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?![.\d])", re.I)
# Inline styles that keep text from a reader while filters still read it (salad, split words).
_HIDING_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*[01](?:\.\d+)?(?:px|pt)?\s*(?:;|$|!)|"
    r"opacity\s*:\s*0(?:\.0+)?\s*(?:;|$|!)",
    re.I,
)
# Where a click handler sends the reader: location.href = '...', window.open('...').
_ONCLICK_URL = re.compile(
    r"""(?:location(?:\.href)?\s*=|location\.(?:assign|replace)\s*\(|window\.open\s*\()\s*['"]([^'"]{4,2000})['"]"""
)
_REFRESH_URL = re.compile(r"(?i)url\s*=\s*['\"]?([^'\";\s]+)")
_BLOCK = frozenset(
    [
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
        "form",
    ]
)
_SKIP_TEXT = frozenset({"style", "title", "template", "noscript", "textarea", "select"})
# Form fields that ask for secrets (name, id or placeholder of an input).
_SECRET_FIELD = re.compile(
    r"(?i)pass|pwd|pin\b|cvv|cvc|ccv|card|expir|ssn|social|account|acct|routing|login|user|mother"
)


_STYLE_COLOR = re.compile(r"(?:^|;)\s*color\s*:\s*([#\w]+)", re.IGNORECASE)


def _near_white(color: str) -> bool:
    """#fff, #fffff8, white: text a reader cannot see on a white page."""
    value = color.strip().lower().lstrip("#")
    if value in ("white", "snow", "ivory", "ghostwhite", "whitesmoke"):
        return True
    if len(value) == 3:
        value = "".join(ch * 2 for ch in value)
    if len(value) != 6:
        return False
    try:
        channels = [int(value[i : i + 2], 16) for i in (0, 2, 4)]
    except ValueError:
        return False
    return min(channels) >= 0xF0


@dataclass(frozen=True, slots=True)
class PageLink:
    """A place the page sends a reader: where it was found, the target, and what the reader sees."""

    kind: str  # anchor, image (an anchor around a picture), area, form, button, refresh, onclick
    url: str
    text: str = ""


@dataclass(slots=True)
class HtmlFacts:
    """Links, forms, scripts, images and visible text of one page."""

    anchors: list[tuple[str, str]] = field(default_factory=list)  # (href, visible text) of <a>
    links: list[PageLink] = field(default_factory=list)  # every followable target, anchors included
    form_actions: list[str] = field(default_factory=list)
    password_inputs: int = 0
    secret_fields: list[str] = field(default_factory=list)  # inputs asking for card, PIN, login ...
    text_inputs: int = 0  # fields a reader types into (text, email, password, number ...)
    scripts: list[str] = field(default_factory=list)
    refresh: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    iframes: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)  # text inside elements styled to be invisible
    images: list[str] = field(default_factory=list)  # img src
    alt_text: list[str] = field(default_factory=list)  # alt / title of images (logos by name)
    handlers: list[str] = field(default_factory=list)  # onmouseover / onmouseout / onfocus code


def _attr(node: LexborNode, name: str) -> str:
    value = node.attributes.get(name)
    return value.strip() if isinstance(value, str) else ""


def _add_link(facts: HtmlFacts, kind: str, url: str, text: str = "") -> None:
    if url and len(facts.links) < MAX_ITEMS:
        facts.links.append(PageLink(kind, url, " ".join(text.split())[:300]))


def _node_text(node: LexborNode) -> str:
    """What a reader sees of an element: its text and the alt text of its images."""
    parts = [node.text(deep=True, separator=" ")[:2000]]
    parts += [_attr(img, "alt") for img in node.css("img")[:5]]
    return " ".join(" ".join(p for p in parts if p).split())[:300]


def scan_html(markup: str) -> HtmlFacts:
    """Facts of a page; broken markup gives partial facts, never an error."""
    facts = HtmlFacts()
    try:
        tree = LexborHTMLParser(markup[:2_000_000])
    except (ValueError, RuntimeError):  # undecodable input: nothing to read
        return facts
    root = tree.root
    if root is None:
        return facts
    # near-white text hides on the default white page; with any background set, it may be legible
    painted = tree.css_first("[bgcolor], [background], [style*='background']") is not None
    # (node, hidden by an ancestor, inside an element whose text is never shown)
    stack: list[tuple[LexborNode, bool, bool]] = [(root, False, False)]
    seen = 0
    while stack and seen < MAX_NODES:
        node, hidden, quiet = stack.pop()
        seen += 1
        tag = node.tag or ""
        if tag == "-text":
            text = node.text_content or ""
            if quiet:
                continue
            if hidden:
                if text.strip() and len(facts.hidden) < MAX_ITEMS:
                    facts.hidden.append(text[:2000])
            elif len(facts.text) < MAX_TEXT_PIECES:
                facts.text.append(text if text.strip() else " ")
            continue
        if tag.startswith("-"):  # comments, doctype
            continue
        if tag == "script":
            src = _attr(node, "src")
            if len(facts.scripts) < MAX_ITEMS:
                facts.scripts.append(f"src={src}" if src else node.text(deep=True)[:200_000])
            continue
        if tag in _BLOCK and len(facts.text) < MAX_TEXT_PIECES:
            facts.text.append("\n")
        style = _attr(node, "style")
        hides = "hidden" in node.attributes or bool(_HIDING_STYLE.search(style))
        if not hides and not painted:
            styled = _STYLE_COLOR.search(style)
            hides = _near_white(_attr(node, "color") or (styled.group(1) if styled else ""))
        _element(node, tag, facts)
        children = list(node.iter(include_text=True))
        stack.extend(
            (child, hidden or hides, quiet or tag in _SKIP_TEXT) for child in reversed(children)
        )
    return facts


def _element(node: LexborNode, tag: str, facts: HtmlFacts) -> None:
    """Facts of one element (its links, form fields, media)."""
    if tag == "a":
        href = _attr(node, "href")
        if href and len(facts.anchors) < MAX_ITEMS:
            text = _node_text(node)
            facts.anchors.append((href, text))
            # a picture that is the link: the reader clicks what the image shows
            pictured = node.css_first("img") is not None and not node.text(deep=True).strip()
            _add_link(facts, "image" if pictured else "anchor", href, text)
    elif tag == "area":
        _add_link(facts, "area", _attr(node, "href"), _attr(node, "alt") or _attr(node, "title"))
    elif tag == "form":
        if len(facts.form_actions) < MAX_ITEMS:
            action = _attr(node, "action")
            facts.form_actions.append(action)
            _add_link(facts, "form", action)
    elif tag in ("input", "button"):
        kind = _attr(node, "type").lower()
        if kind == "password":
            facts.password_inputs += 1
        if tag == "input" and kind not in (
            "hidden",
            "submit",
            "button",
            "image",
            "reset",
            "checkbox",
            "radio",
        ):
            facts.text_inputs += 1
            label = " ".join(
                _attr(node, a) for a in ("name", "id", "placeholder", "autocomplete")
            ).strip()
            if label and _SECRET_FIELD.search(label) and len(facts.secret_fields) < MAX_ITEMS:
                facts.secret_fields.append(label[:80])
        _add_link(facts, "button", _attr(node, "formaction"), _attr(node, "value"))
    elif tag == "meta" and _attr(node, "http-equiv").lower() == "refresh":
        content = _attr(node, "content")
        facts.refresh.append(content)
        match = _REFRESH_URL.search(content)
        if match:
            _add_link(facts, "refresh", match.group(1))
    elif tag in ("iframe", "embed", "object", "frame") and len(facts.iframes) < MAX_ITEMS:
        facts.iframes.append(_attr(node, "src") or _attr(node, "data"))
    elif tag == "img" and len(facts.images) < MAX_ITEMS:
        facts.images.append(_attr(node, "src"))
        alt = _attr(node, "alt") or _attr(node, "title")
        if alt:
            facts.alt_text.append(alt[:200])
    for event in ("onmouseover", "onmouseout", "onfocus", "onload"):
        code = _attr(node, event)
        if code and len(facts.handlers) < MAX_ITEMS:
            facts.handlers.append(code[:500])
    onclick = _attr(node, "onclick")
    if onclick:
        match = _ONCLICK_URL.search(onclick)
        if match:
            _add_link(facts, "onclick", match.group(1), _node_text(node))


def visible_text(facts: HtmlFacts) -> str:
    """The page's text as a reader would see it (roughly: only inline hiding styles are evaluated)."""
    return " ".join("".join(facts.text).split())


def has_hidden_styling(markup: str) -> bool:
    """Whether the page hides some of its content with CSS."""
    return bool(_HIDDEN.search(markup[:2_000_000]))
