"""The pre-send content checks: plain-language findings with where they are and how to fix them;
errors (which block sending) first, never the template engine's own wording."""

from __future__ import annotations

import pytest

from mailfleet.desktop.services.content_checks import CLIP_BYTES, Finding, check_content

UNSUBSCRIBE = "<a href='{{ unsubscribe_url }}'>Unsubscribe</a>"
WORDS = " ".join(["Our spring range is here, with news for every reader."] * 12)
# What Jinja says that no marketer should read.
ENGINE_WORDING = ("Jinja", "end of print statement", "expected token", "innermost block",
                  "unexpected char", "Encountered unknown tag")  # fmt: skip


def findings(subject: str, html: str, text: str = "") -> list[Finding]:
    return check_content(subject, html, text, ["city", "plan"])


def messages(found: list[Finding]) -> list[str]:
    return [f"{f.level}: {f.message} {f.fix}" for f in found]


def test_a_clean_message_passes() -> None:
    assert findings("Hi {{ first_name }}", f"<p>{WORDS} {{{{ city }}}}</p>{UNSUBSCRIBE}") == []


def test_a_broken_merge_tag_in_the_subject_is_named_as_in_the_subject() -> None:
    (error,) = [f for f in findings("Hi {{ first_name", f"<p>{WORDS}</p>{UNSUBSCRIBE}") if f.blocks]
    assert error.message == "In the subject, a merge tag opened with {{ is not closed."
    assert error.fix == "Close it with }}, as in {{ first_name }}."


@pytest.mark.parametrize(
    ("html", "message", "fix"),
    [
        ("<p>\n{% if plan %}Gold", "On line 2 of the HTML, {% if %} is never closed.",
         "Add {% endif %}"),
        ("<p>a</p>\n\n{% endif %}", "On line 3 of the HTML, {% endif %} closes something that "
         "was never opened.", "Remove it"),
        ("{% iff plan %}x{% endif %}", "On line 1 of the HTML, {% iff %} is not a template "
         "command.", "Did you mean {% if %}?"),
        ("{{ city|uper }}", "On line 1 of the HTML, |uper is not a filter a merge tag can use.",
         "Did you mean |upper?"),
        ("{{ first name }}", "On line 1 of the HTML, a merge tag holds two words", "_ for spaces"),
        ("{{ }}", "On line 1 of the HTML, a merge tag {{ }} has nothing in it.", "Put a field"),
        ('{{ "abc }}', 'On line 1 of the HTML, a quote " in a merge tag is not closed.', '"'),
    ],
)  # fmt: skip
def test_template_mistakes_in_plain_words(html: str, message: str, fix: str) -> None:
    errors = [f for f in findings("Hi", html + UNSUBSCRIBE) if f.blocks]
    assert len(errors) == 1, messages(errors)
    assert errors[0].message.startswith(message) and fix in errors[0].fix
    assert not any(word in errors[0].message + errors[0].fix for word in ENGINE_WORDING)


def test_an_unknown_field_says_where_and_what_was_meant() -> None:
    found = findings("Hello {{ firstname }}", f"<p>{WORDS}</p>\n<p>{{{{ citty }}}}</p>\n"
                     f"{{{{ nickname_x }}}}{UNSUBSCRIBE}")  # fmt: skip
    errors = [(f.message, f.fix) for f in found if f.blocks]
    assert errors == [
        ("In the subject, {{ firstname }} is not a field of this workspace.",
         "Did you mean {{ first_name }}?"),
        ("On line 2 of the HTML, {{ citty }} is not a field of this workspace.",
         "Did you mean {{ city }}?"),
        ("On line 3 of the HTML, {{ nickname_x }} is not a field of this workspace.",
         "Add it as a field (Contacts → Fields…) or remove it."),
    ]  # fmt: skip


def test_the_text_part_is_named_and_errors_come_first() -> None:
    found = findings("Hi", "<img src='https://x.example/a.png'>", "Hello\n{{ plan")
    assert found[0].blocks and found[0].message.startswith("On line 2 of the text,")
    assert all(not f.blocks for f in found[1:])


def test_images_links_and_unsubscribe() -> None:
    html = (
        f"<p>{WORDS}</p>\n<img src='https://x.example/a.png'>\n"
        "<a href='https://x.example/shop'><img src='https://x.example/b.png' alt='Shop'></a>\n"
        "<a href='https://x.example/empty'></a>\n<a href='/relative'>Our page</a>\n"
        "<a href='mailto:hi@x.example'>Write to us</a> <a href='javascript:go()'>Go</a>"
    )
    found = messages(findings("Hi", html))
    assert found == [
        "warning: On line 2 of the HTML, the image https://x.example/a.png has no alt text. "
        "Describe the image in its alt text: many readers see that instead.",
        "warning: On line 4 of the HTML, the link to https://x.example/empty has no text. "
        "Give it words that say where it goes (or alt text on its image).",
        "warning: On line 5 of the HTML, the link “Our page” goes to /relative, which does not "
        "open from an email. Use a full web address starting with https://.",
        "warning: On line 6 of the HTML, the link “Go” goes to javascript:go(), which does not "
        "open from an email. Use a full web address starting with https://.",
        "warning: There is no unsubscribe link: mailbox providers expect one in every bulk "
        'message. Add a link to {{ unsubscribe_url }}, e.g. <a href="{{ unsubscribe_url }}">'
        "Unsubscribe</a>.",
    ]


def test_a_message_of_images_and_a_clipped_one_are_warned_about() -> None:
    images = "".join(f"<img src='https://x.example/{n}.png' alt='Offer {n}'>" for n in range(3))
    (ratio,) = findings("Hi", f"<p>Big sale</p>{images}{UNSUBSCRIBE}")
    assert ratio.message == "The message is mostly images: 3 images and 3 words of text."
    big = f"<p>{'x' * (CLIP_BYTES + 2048)}</p>{UNSUBSCRIBE}"
    (clipped,) = findings("Hi", big)
    assert not clipped.blocks and clipped.message.startswith("The HTML is 104 KB: Gmail clips")


def test_an_empty_message_is_an_error() -> None:
    assert [f.message for f in findings("", "") if f.blocks] == [
        "The subject is empty.", "There is neither an HTML nor a text body."]  # fmt: skip
