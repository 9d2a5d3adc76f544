"""Templates written in the block editor or in Markdown keep their source and re-open as
written; the HTML and text stored beside it are rendered from it."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from mailfleet.desktop.db.models import FieldType
from mailfleet.desktop.services import field_admin, template_editors, templates
from mailfleet.desktop.services.blocks import model as m
from mailfleet.desktop.services.fields import create_field


def _design() -> m.Design:
    blocks: list[m.Block] = [m.Heading(text="Hello {{ first_name }}"), m.Button(), m.Footer()]
    return m.Design(sections=[m.Section(columns=[m.Column(blocks=blocks)])])


def test_a_block_template_is_saved_with_its_design_and_reopens_as_the_same_blocks(
    engine: Engine, workspace: int
) -> None:
    with engine.begin() as conn:
        tid = template_editors.save(conn, workspace, "News", "Hi", "blocks", m.to_json(_design()))
    with engine.connect() as conn:
        [row] = templates.list_templates(conn, workspace)
    assert (row.id, row.editor) == (tid, "blocks")
    assert m.from_json(row.source) == _design()
    assert 'href="{{ unsubscribe_url }}"' in row.html
    assert row.text.startswith("Hello {{ first_name }}")

    changed = _design()
    changed.sections[0].columns[0].blocks.reverse()
    with engine.begin() as conn:
        template_editors.save(conn, workspace, "News", "Hi", "blocks", m.to_json(changed), tid)
    with engine.connect() as conn:
        [row] = templates.list_templates(conn, workspace)
    assert m.from_json(row.source) == changed
    assert row.text.startswith("You receive this")


def test_a_markdown_template_keeps_its_markdown_and_renders_html(
    engine: Engine, workspace: int
) -> None:
    source = "# Hello {{ first_name }}\n\nSee [the news](https://example.com/news)."
    with engine.begin() as conn:
        template_editors.save(conn, workspace, "Plain", "Hi", "markdown", source)
    with engine.connect() as conn:
        [row] = templates.list_templates(conn, workspace)
    assert (row.editor, row.source, row.text) == ("markdown", source, source)
    assert "<h1>Hello {{ first_name }}</h1>" in row.html
    assert '<a href="https://example.com/news">the news</a>' in row.html


def test_html_templates_are_kept_as_typed_and_older_ones_read_as_html(
    engine: Engine, workspace: int
) -> None:
    with engine.begin() as conn:
        template_editors.save(conn, workspace, "Raw", "Hi", "html", "", html="<p>x</p>", text="x")
        # A template saved before editors existed: the columns' server defaults.
        conn.execute(
            text(
                "INSERT INTO templates (workspace_id, name, subject, html, text, updated_at) "
                "VALUES (:w, 'Old', 's', '<b>old</b>', '', CURRENT_TIMESTAMP)"
            ),
            {"w": workspace},
        )
    with engine.connect() as conn:
        raw, old = templates.list_templates(conn, workspace)[::-1]
    assert (raw.editor, raw.source, raw.html, raw.text) == ("html", "", "<p>x</p>", "x")
    assert (old.name, old.editor, old.source, old.html) == ("Old", "html", "", "<b>old</b>")


def test_a_broken_design_is_not_saved(engine: Engine, workspace: int) -> None:
    with engine.begin() as conn, pytest.raises(m.DesignError):
        template_editors.save(conn, workspace, "Bad", "Hi", "blocks", '{"version": 1, "x')
    with engine.connect() as conn:
        assert templates.list_templates(conn, workspace) == []


def test_renaming_a_field_renames_its_merge_tag_in_designs_and_markdown(
    engine: Engine, workspace: int
) -> None:
    design = m.Design(
        sections=[m.Section(columns=[m.Column(blocks=[
            m.Heading(text="Hi from {{ plan }}"),
            m.Button(label="Upgrade {{ plan|upper }}", href="https://x.example/?p={{ plan }}"),
            m.Text(text="Your plan: {{ plan }}. A plan is {{ x.plan }}."),
        ])])]
    )  # fmt: skip
    with engine.begin() as conn:
        create_field(conn, workspace, "Plan", FieldType.TEXT)
        template_editors.save(conn, workspace, "B", "{{ plan }}", "blocks", m.to_json(design))
        template_editors.save(conn, workspace, "M", "Hi", "markdown", "# {{ plan }} plan")
        field_admin.rename_field(conn, workspace, "plan", "Tier")
    with engine.connect() as conn:
        blocks_row, markdown_row = templates.list_templates(conn, workspace)
    renamed = m.from_json(blocks_row.source).sections[0].columns[0].blocks
    assert renamed == [
        m.Heading(text="Hi from {{ tier }}"),
        m.Button(label="Upgrade {{ tier|upper }}", href="https://x.example/?p={{ tier }}"),
        m.Text(text="Your plan: {{ tier }}. A plan is {{ x.plan }}."),
    ]
    assert blocks_row.subject == "{{ tier }}" and "{{ plan }}" not in blocks_row.html
    assert markdown_row.source == "# {{ tier }} plan"
