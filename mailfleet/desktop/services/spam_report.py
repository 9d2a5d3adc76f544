"""A SpamAssassin score in plain words: the report spamd gives, read into the rules that fired,
each explained for a marketer.

Pure: the text of spamd's REPORT answer in, a typed report out; asking spamd is
``mailfleet.desktop.agents.spamd``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# What the rules a bulk mailer most often trips mean for the person writing the message; a
# rule not here is shown with SpamAssassin's own description.
PLAIN: dict[str, str] = {
    "MIME_HTML_ONLY": "The message has only an HTML part: add a text version.",
    "HTML_IMAGE_ONLY_04": "The message is almost only images: add text.",
    "HTML_IMAGE_ONLY_08": "The message is almost only images: add text.",
    "HTML_IMAGE_ONLY_12": "The message is mostly images: add text.",
    "HTML_IMAGE_ONLY_16": "The message is mostly images: add text.",
    "HTML_IMAGE_ONLY_20": "The message is mostly images: add text.",
    "HTML_IMAGE_ONLY_24": "The message is mostly images: add text.",
    "HTML_IMAGE_RATIO_02": "There is little text beside the images: add text.",
    "HTML_IMAGE_RATIO_04": "There is little text beside the images: add text.",
    "HTML_IMAGE_RATIO_06": "There is little text beside the images: add text.",
    "HTML_SHORT_LINK_IMG_1": "An image link with almost no text around it: add text.",
    "HTML_FONT_LOW_CONTRAST": "Text in a colour close to its background looks like hidden text.",
    "HTML_FONT_SIZE_TINY": "Some text is tiny: it looks like hidden text.",
    "HTML_MIME_NO_HTML_TAG": "The HTML part has no <html> tag.",
    "SUBJ_ALL_CAPS": "The subject is all capitals: write it in normal case.",
    "UPPERCASE_50_75": "Much of the text is in capitals.",
    "UPPERCASE_75_100": "Most of the text is in capitals.",
    "MISSING_DATE": "The message has no Date header.",
    "MISSING_MID": "The message has no Message-ID.",
    "MISSING_SUBJECT": "The message has no subject.",
    "EMPTY_MESSAGE": "The message has no text.",
    "URG_BIZ": 'Words of urgency ("urgent", "act now") read as a scam.',
    "RISK_FREE": '"No risk" or "risk free" is a spam phrase.',
    "ADVANCE_FEE_5_NEW_MONEY": "Large sums of money and a request read as advance-fee fraud.",
    "LOTS_OF_MONEY": "The message mentions huge sums of money.",
    "US_DOLLARS_3": "The message mentions millions of dollars.",
    "XFER_LOTSA_MONEY": "A transfer of a lot of money reads as fraud.",
    "DRUGS_ERECTILE": "It names an erectile-dysfunction drug.",
    "DIET_1": "Weight-loss wording is typical of spam.",
    "FREEMAIL_FROM": "The From address is a free webmail address: send from your own domain.",
    "FREEMAIL_REPLYTO": "The reply-to is a free webmail address.",
    "T_REMOTE_IMAGE": "The message loads remote images.",
    "HTML_MESSAGE": "The message has HTML (this alone costs nothing).",
    "DKIM_SIGNED": "The message is DKIM-signed.",
    "DKIM_VALID": "Its DKIM signature is valid.",
}
_RULE_LINE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z0-9_]+)\s+(.*)$")
_SECTION_PREFIX = re.compile(r"^(?:BODY|URI|RAW|HEADER|META|FULL): ")


@dataclass(frozen=True)
class Rule:
    """A rule that fired: its points, its SpamAssassin name, and what it means in plain words."""

    points: float
    name: str
    meaning: str


@dataclass(frozen=True)
class SpamReport:
    """SpamAssassin's verdict on one message: its score, the score that counts as spam, and
    the rules that fired, the costliest first."""

    score: float
    threshold: float
    rules: tuple[Rule, ...]

    @property
    def is_spam(self) -> bool:
        """Whether SpamAssassin would call the message spam."""
        return self.score >= self.threshold


def read_report(score: float, threshold: float, body: str) -> SpamReport:
    """The report from spamd's REPORT answer: ``body`` is its text after the headers."""
    _, found, table = body.partition("---- ----")
    if not found:
        return SpamReport(score, threshold, ())
    rules: list[Rule] = []
    for line in table.splitlines()[1:]:
        matched = _RULE_LINE.match(line)
        if matched is not None:
            points, name, description = matched.groups()
            rules.append(Rule(float(points), name, description.strip()))
        elif line.strip() and rules:  # a long description goes on, indented, below its rule
            last = rules[-1]
            rules[-1] = Rule(last.points, last.name, f"{last.meaning} {line.strip()}")
    explained = [Rule(r.points, r.name, explain(r.name, r.meaning)) for r in rules]
    return SpamReport(score, threshold, tuple(sorted(explained, key=lambda r: -r.points)))


def explain(name: str, description: str) -> str:
    """A rule in plain words: ours when we have it, else SpamAssassin's without its jargon."""
    if name in PLAIN:
        return PLAIN[name]
    text = _SECTION_PREFIX.sub("", description).strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else name
