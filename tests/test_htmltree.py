"""The shared HTML parse: text nodes in reading order, robust to the bodies the web sends."""

from __future__ import annotations

import pytest

from linkkeeper.core import htmltree
from linkkeeper.core.models import FetchResult


def test_strings_in_document_order_with_tails_and_without_comments() -> None:
    root = htmltree.parse(
        "<html><body>a<!-- hidden -->b<script>code()</script>c"
        "<p>p<b>bold</b>after</p>end</body></html>"
    )
    assert list(htmltree.strings(root)) == ["a", "b", "code()", "c", "p", "bold", "after", "end"]
    skipped = htmltree.strings(root, skip=lambda element: element.tag == "script")
    assert list(skipped) == ["a", "b", "c", "p", "bold", "after", "end"]


def test_strings_of_a_subtree_stop_before_its_tail() -> None:
    root = htmltree.parse("<p>one <b> two </b> three</p> outside")
    bold = htmltree.first(root, "b")
    assert bold is not None
    assert list(htmltree.strings(bold)) == [" two "]
    assert htmltree.text_of(htmltree.first(root, "p")) == "one two three"  # type: ignore[arg-type]


@pytest.mark.parametrize("body", ["", "   ", "<!-- only a comment -->"])
def test_empty_bodies_give_an_empty_page_not_an_error(body: str) -> None:
    root = htmltree.parse(body)
    assert root.tag == "html"
    assert htmltree.text_of(root) == ""


def test_declared_encodings_do_not_decode_the_text_twice() -> None:
    markup = (
        '<?xml version="1.0" encoding="iso-8859-1"?><html><head>'
        '<meta charset="windows-1252"><title>Café – naïve</title></head>'
        "<body>Zürich\x00</body></html>"
    )
    root = htmltree.parse(markup)
    assert htmltree.text_of(htmltree.first(root, "title")) == "Café – naïve"  # type: ignore[arg-type]
    assert htmltree.text_of(root.body) == "Zürich\ufffd"


def test_a_page_is_parsed_once_and_shared() -> None:
    page = FetchResult("u", "u", 200, {"content-type": "text/html"}, b"<title>T</title><p>x</p>")
    assert page.tree() is page.tree()
    page.release()
    assert htmltree.text_of(page.tree()) == "T x"
