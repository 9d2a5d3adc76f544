"""HTML to text for the derived text part."""

from __future__ import annotations

from mailfleet.agent.render.text import html_to_text


def test_keeps_link_targets_after_their_labels() -> None:
    html = '<p>See <a href="https://shop.example/?a=1&amp;b=2">our <b>shop</b></a>.</p>'
    assert html_to_text(html) == "See our shop (https://shop.example/?a=1&b=2).\n"


def test_a_link_whose_label_is_its_target_is_written_once() -> None:
    html = (
        '<a href="https://x.example/">https://x.example/</a> '
        "<a href='mailto:help@x.example'>help@x.example</a>"
    )
    assert html_to_text(html) == "https://x.example/ help@x.example\n"


def test_drops_head_scripts_styles_and_comments() -> None:
    html = (
        "<html><head><title>T</title><style>p{color:red}</style></head>"
        "<body><!-- hidden --><script>alert(1)</script><p>Visible</p></body></html>"
    )
    assert html_to_text(html) == "Visible\n"


def test_blocks_breaks_and_list_items_become_lines() -> None:
    html = "<h1>Title</h1><p>One<br>Two</p><ul><li>first</li><li>second</li></ul><p>End</p>"
    assert html_to_text(html) == "Title\n\nOne\nTwo\n\n- first\n- second\n\nEnd\n"


def test_decodes_entities_once_and_collapses_spaces() -> None:
    html = "<p>Fish&nbsp;&amp;   chips &lt;3 &amp;lt; &#8364;5</p>"
    assert html_to_text(html) == "Fish & chips <3 &lt; \u20ac5\n"
