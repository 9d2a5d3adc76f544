"""The languages the agents' public pages speak (form, confirmation, preferences, unsubscribe).

The codes are the agent's (``mailfleet/agent/pages/catalogue.py``); a campaign sends its
language as the tag ``lang:<code>``.
"""

from __future__ import annotations

# As shown in the editors, by code.
LANGUAGES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish"}
LANGUAGE_TAG = "lang:"
