"""The block editor's design: JSON round trip, the MJML-rendered HTML and the text part."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from mailfleet.desktop.services import templates
from mailfleet.desktop.services.blocks import model as m
from mailfleet.desktop.services.blocks import to_html, to_text

NEWS = "**New** in [our shop](https://shop.example/new)\n\n- a\n- b"


def every_block() -> m.Design:
    """A design using every kind of block, two sections, one of them in two columns."""
    return m.Design(
        preheader="What is new this month",
        sections=[
            m.Section(
                columns=[
                    m.Column(
                        blocks=[
                            m.Heading(text='Hi {{ first_name|default("there") }} & co', level=2),
                            m.Text(text=NEWS),
                            m.Image(src="https://cdn.example/a.png", alt="A lamp", width=300),
                            m.Button(label="Shop now", href="https://shop.example/"),
                            m.Divider(color="#ff0000"),
                            m.Spacer(height=40),
                            m.Social(links="instagram https://instagram.com/shop\nmyspace x"),
                        ]
                    )
                ]
            ),
            m.Section(
                background_color="#eeeeee",
                columns=[m.Column(blocks=[m.Text(text="Left")]), m.Column(blocks=[m.Footer()])],
            ),
        ],
    )


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href") or "")


def test_a_design_reads_back_from_its_json_as_the_same_blocks() -> None:
    design = every_block()
    again = m.from_json(m.to_json(design))
    assert again == design
    assert [type(b) for b in again.sections[0].columns[0].blocks] == [
        m.Heading,
        m.Text,
        m.Image,
        m.Button,
        m.Divider,
        m.Spacer,
        m.Social,
    ]
    assert m.to_json(again) == m.to_json(design)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda d: d.update(background_color="red;x"), "must be a colour"),
        (lambda d: d["sections"][0]["columns"][0]["blocks"][0].update(align="middle"), "left"),
        (lambda d: d["sections"][0]["columns"][0]["blocks"][0].update(type="video"), "no 'video'"),
        (lambda d: d["sections"][0].update(columns=[]), "one to 4 columns"),
        (lambda d: d.update(version=99), "format"),
        (lambda d: d["sections"][0].update(padding="1em"), "Padding"),
    ],
)
def test_a_design_with_a_wrong_value_is_refused_saying_which(change, said) -> None:  # type: ignore[no-untyped-def]
    import json

    data = json.loads(m.to_json(every_block()))
    change(data)
    with pytest.raises(m.DesignError, match=said):
        m.from_json(json.dumps(data))


def test_a_newer_editors_extra_keys_are_ignored() -> None:
    import json

    data = json.loads(m.to_json(every_block()))
    data["sections"][0]["columns"][0]["blocks"][0]["shadow"] = "big"
    assert m.from_json(json.dumps(data)) == every_block()


def test_the_html_parses_and_has_the_unsubscribe_and_preferences_links() -> None:
    html = to_html.render(every_block())
    parser = _Links()
    parser.feed(html)
    parser.close()
    assert "{{ unsubscribe_url }}" in parser.hrefs
    assert "{{ preferences_url }}" in parser.hrefs
    assert "https://shop.example/new" in parser.hrefs
    assert "https://instagram.com/shop" in parser.hrefs
    assert "myspace" not in html  # an unknown network is left out
    # Responsive: the media query that stacks columns on a phone is kept, and styles are inlined.
    assert "@media only screen and (min-width:480px)" in html
    assert 'style="' in html and "fonts.googleapis" not in html
    assert "What is new this month" in html


def test_merge_tags_survive_escaping_and_render_with_the_agents_renderer() -> None:
    design = every_block()
    shown = templates.preview(
        "Hello",
        to_html.render(design),
        to_text.render(design),
        "ann@example.com",
        "Ann",
        {"first_name": "Ann"},
    )
    assert shown.error == ""
    assert "Hi Ann &amp; co" in shown.html
    assert "Hi Ann & co" in shown.text
    nobody = templates.preview("Hello", to_html.render(design), "", "b@example.com", "", {})
    assert "Hi there &amp; co" in nobody.html


def test_the_text_part_is_written_from_the_blocks() -> None:
    text = to_text.render(every_block())
    assert text.startswith('Hi {{ first_name|default("there") }} & co\n\nNew in our shop')
    assert "our shop (https://shop.example/new)" in text
    assert "- a\n- b" in text
    assert "Shop now: https://shop.example/" in text
    assert "Instagram: https://instagram.com/shop" in text
    assert "Unsubscribe: {{ unsubscribe_url }}" in text
    assert "Manage preferences: {{ preferences_url }}" in text
    assert "<" not in text


def test_raw_html_typed_in_a_text_block_is_shown_as_text() -> None:
    typed = m.Text(text="<script>x</script>")
    design = m.Design(sections=[m.Section(columns=[m.Column(blocks=[typed])])])
    html = to_html.render(design)
    assert "<script>x" not in html and "&lt;script&gt;x" in html
