"""One parse per HTML page, shared by the soft-404 judge, the metadata chain and drift.

lxml's HTML parser (libxml2, in C) reads a 5 KB article in about 0.03 ms; BeautifulSoup builds
the same tree in Python objects in about 0.9 ms, which was a third of ``check``'s CPU per link.
The tree is only read, through the few helpers here, so every stage sees the same text nodes in
the same order (what BeautifulSoup's ``strings`` gave: element text, then each child, then that
child's tail; comments and processing instructions contribute only their tails).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import lxml.html
from lxml import etree

Element = lxml.html.HtmlElement

# Explicit UTF-8: the body is decoded by :meth:`FetchResult.text` (declared charset, else UTF-8)
# and handed over re-encoded, so a page's own ``<meta charset>`` or XML declaration cannot make
# libxml2 decode it a second time. ``huge_tree``: no libxml2 depth or text-node limits trip on
# a long ``__NEXT_DATA__`` block (bodies are capped before they get here).
_PARSER = lxml.html.HTMLParser(encoding="utf-8", huge_tree=True, remove_blank_text=False)


def parse(markup: str) -> Element:
    """The page's ``<html>`` root; an empty or unparseable body gives an empty ``<html>``."""
    data = markup.replace("\x00", "\ufffd").encode("utf-8", errors="replace")
    try:
        root = lxml.html.document_fromstring(data, parser=_PARSER)
    except (etree.ParserError, ValueError):  # "Document is empty" and the like
        root = None
    if root is None:  # lxml returns None for a body of comments only
        root = lxml.html.document_fromstring(b"<html></html>", parser=_PARSER)
    return root


def is_element(node: Element) -> bool:
    """A real element, not a comment, processing instruction or entity node."""
    return isinstance(node.tag, str)


def strings(root: Element, skip: Callable[[Element], bool] | None = None) -> Iterator[str]:
    """The text nodes under ``root`` in document order, leaving out the content (not the tail)
    of every element ``skip`` picks, and of comments. ``root``'s own tail is outside it."""
    stack: list[tuple[Iterator[Element], Element | None]] = [(iter((root,)), None)]
    while stack:
        children, parent = stack[-1]
        for node in children:
            if is_element(node) and not (skip is not None and skip(node)):
                if node.text:
                    yield node.text
                stack.append((iter(node), node))
                break
            if node.tail and node is not root:
                yield node.tail
        else:
            stack.pop()
            if parent is not None and parent is not root and parent.tail:
                yield parent.tail


def text_of(element: Element, skip: Callable[[Element], bool] | None = None) -> str:
    """Stripped text nodes joined by spaces (BeautifulSoup's ``get_text(" ", strip=True)``),
    without what ``skip`` picks (see :func:`strings`)."""
    return " ".join(s for s in (t.strip() for t in strings(element, skip)) if s)


def first(root: Element, tag: str) -> Element | None:
    """The first ``<tag>`` in document order, if any."""
    return next(root.iter(tag), None)
