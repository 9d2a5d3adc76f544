"""The spam score from a real SpamAssassin (Debian's spamd, local rules only, started for the
test): a spammy message scores over 5 with its rules in plain words, a clean one under 2."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailfleet.agent.client.localagent import free_port
from mailfleet.desktop.agents import spamd
from mailfleet.desktop.agents.spamd import SpamdUnavailable
from mailfleet.desktop.services import spam_report, spamd_setting, templates
from tests.peers.spamd import CLEAN, SPAMMY, SpamdServer, start_spamd


@pytest.fixture(scope="module")
def server() -> Iterator[SpamdServer]:
    started = start_spamd()
    yield started
    started.stop()


def message(subject: str, html: str) -> bytes:
    return templates.message_bytes(subject, html, "", "ann@example.com", "Ann Lee",
                                   {"first_name": "Ann"}, "news@shop.example.com")  # fmt: skip


def test_a_spammy_message_scores_over_five_with_its_rules_explained(server: SpamdServer) -> None:
    report = spamd.score(server.address, message(*SPAMMY))
    assert report.score > 5 and report.is_spam and report.threshold == 5.0
    names = [r.name for r in report.rules]
    assert "DRUGS_ERECTILE" in names and "RISK_FREE" in names
    points = [r.points for r in report.rules]
    assert points == sorted(points, reverse=True)
    assert sum(points) == pytest.approx(report.score, abs=0.2)
    drug = next(r for r in report.rules if r.name == "DRUGS_ERECTILE")
    assert drug.meaning == "It names an erectile-dysfunction drug."


def test_a_clean_message_scores_under_two(server: SpamdServer) -> None:
    report = spamd.score(server.address, message(*CLEAN))
    assert report.score < 2 and not report.is_spam


def test_spamd_not_there_or_not_an_address_is_said_plainly() -> None:
    nobody = f"127.0.0.1:{free_port()}"
    with pytest.raises(SpamdUnavailable, match="cannot be reached: is spamd running there"):
        spamd.score(nobody, message(*CLEAN), timeout=10)
    with pytest.raises(SpamdUnavailable, match="is not a spamd address: write host:port"):
        spamd.score("localhost:http", message(*CLEAN))
    assert spamd_setting.parse_address("spam.example.com") == ("spam.example.com", 783)
    assert spamd_setting.parse_address("[::1]:7830") == ("::1", 7830)


def test_a_report_without_rules_and_a_rule_we_have_no_words_for() -> None:
    body = (
        "Content analysis details:   (1.2 points, 5.0 required)\n\n"
        " pts rule name              description\n"
        "---- ---------------------- --------------------------------------------------\n"
        " 1.2 SOME_NEW_RULE          BODY: Mentions something odd that goes on\n"
        "                            over two lines\n"
    )
    (rule,) = spam_report.read_report(1.2, 5.0, body).rules
    assert rule.name == "SOME_NEW_RULE"
    assert rule.meaning == "Mentions something odd that goes on over two lines."
    assert spam_report.read_report(0.0, 5.0, "no table").rules == ()
