"""The starter designs: six of them, each rendering to HTML with the unsubscribe link and no
content error, in the workspace's accent colour and logo (from its signup forms)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from sqlalchemy import Engine, insert

from mailfleet.desktop.db.models import SignupForm
from mailfleet.desktop.services import branding, templates
from mailfleet.desktop.services.blocks import model as m
from mailfleet.desktop.services.blocks import starters, to_html, to_text
from mailfleet.desktop.services.content_checks import BUILT_IN_TAGS, ERROR, check_content

ACME = starters.Branding("Acme", "#e11d48", "https://acme.example/logo.png")


def test_there_are_the_six_starters_the_issue_names() -> None:
    assert set(starters.SUBJECTS) == set(starters.STARTERS)
    assert set(starters.STARTERS) == {
        "newsletter", "announcement", "welcome", "receipt", "event", "reengagement"}  # fmt: skip


@pytest.mark.parametrize("key", list(starters.STARTERS))
def test_each_starter_renders_in_the_workspaces_branding_with_no_content_error(key: str) -> None:
    design = starters.starter(key, ACME)
    assert m.from_json(m.to_json(design)) == design
    html, text = to_html.render(design), to_text.render(design)
    HTMLParser().feed(html)
    assert 'href="{{ unsubscribe_url }}"' in html and "{{ unsubscribe_url }}" in text
    assert starters.ACCENT not in html.lower() and "#e11d48" in html
    assert 'src="https://acme.example/logo.png"' in html and starters.LOGO not in html
    found = check_content(starters.SUBJECTS[key], html, text, BUILT_IN_TAGS)
    assert [f.message for f in found if f.level == ERROR] == []
    shown = templates.preview("Hello", html, text, "ann@example.com", "Ann", {"first_name": "Ann"})
    assert shown.error == ""


def test_without_a_logo_the_workspaces_name_heads_the_message() -> None:
    design = starters.starter("welcome", starters.Branding("Acme"))
    first = design.sections[0].columns[0].blocks[0]
    assert first == m.Heading(text="Acme", level=2, align="center", padding="0px 25px")
    assert starters.ACCENT in to_html.render(design).lower()  # no accent of its own: the default


def test_the_branding_comes_from_the_workspaces_latest_signup_form(
    engine: Engine, workspace: int
) -> None:
    with engine.connect() as conn:
        assert branding.workspace_branding(conn, workspace).accent == ""
    with engine.begin() as conn:
        for n, (accent, logo) in enumerate([("#111111", "https://a.example/old.png"),
                                            ("#e11d48", "")]):  # fmt: skip
            conn.execute(
                insert(SignupForm).values(
                    workspace_id=workspace, form_id=f"f{n}", name=f"Form {n}",
                    definition={"accent_color": accent, "logo_url": logo},
                )
            )  # fmt: skip
    with engine.connect() as conn:
        found = branding.workspace_branding(conn, workspace)
    assert (found.accent, found.logo_url) == ("#e11d48", "https://a.example/old.png")
    assert found.name
