"""Segments: who a campaign reaches. A segment is a rule kept as data (JSON), checked when it is
saved, and compiled to one SQL condition on `contacts` (bound parameters only) when it is used.
Every rule is evaluated as of a moment `now` (default: the current time).

The rule language
=================
A rule is one JSON object; its single *kind* key says what it checks.

Combinators
    {"all": [rule, ...]}      every rule holds (an empty list: every contact)
    {"any": [rule, ...]}      at least one rule holds (the list may not be empty)
    {"not": rule}             the rule does not hold

Contact attributes
    {"attr": A, "op": OP, "value": V}
    A is a column (name, given_name, email, gender, province, carrier, source, phone_type,
    phone, dnc, created_at, birthday) or a custom attribute ``attrs.KEY``.
        text columns   eq ne in not_in contains starts_with exists missing
        dnc            eq ne (value true/false)
        created_at     gt gte lt lte exists missing (value "2025-01-31" = start of that day
                       in Vietnam, or an ISO time with an offset)
        birthday       eq ne gt gte lt lte exists missing (value "1990-12-25")
        attrs.KEY      eq ne in not_in contains starts_with (compared as text: 5, true, Sỉ)
                       gt gte lt lte (compared as numbers; non-numeric values never match)
                       exists missing
    Comparisons are exact (case and accents matter). A missing value (NULL, or empty text) is
    never equal, greater or less than anything, so ``ne`` and ``not_in`` include it.

Tags, channels, consent
    {"tag": "vip"} or {"tag": ["vip", "gold"]}        carries (one of) the tag(s)
    {"channel": "sms", "state": "subscribed"}         sms/email/push/zalo; subscribed/opted_out
                                                      (no stored state means subscribed)
    {"consent": {"channel": "sms", "purpose": "marketing"}}
                                                      a consent given by `now`, not withdrawn

Events
    {"event": TYPE, "count": CMP, "sum": CMP, "within_days": N, "category": C}
    {"event": TYPE, "exists": true|false, "within_days": N}
    CMP is an object of eq/ne/gt/gte/lt/lte bounds, all of which must hold: {"gte": 2, "lt": 5}.
    ``count`` counts the contact's events of TYPE, ``sum`` adds their value_vnd; a contact with
    no such events has count 0 and sum 0, so {"count": {"eq": 0}} includes contacts who never
    had one. ``within_days`` keeps events in the last N days before `now`; ``category`` keeps
    events of that category (or list of categories). "purchase" means every purchase type
    (purchase, order_completed). Examples:
        {"event": "purchase", "count": {"gte": 2}, "within_days": 90}   bought twice in 90 days
        {"event": "purchase", "sum": {"gte": 5000000}}                  spent 5M đồng or more
        {"event": "purchase", "count": {"eq": 0}, "within_days": 180}   no purchase in 180 days
        {"all": [{"event": "account_created", "exists": true},
                 {"event": "purchase", "count": {"eq": 0}}]}            signed up, never bought

Dates
    {"birthday_within_days": 7}    birthday today or in the next 6 days (Vietnam time; the
                                   window wraps the new year; 29 Feb counts on 28 Feb in
                                   common years)
    {"created_within_days": 30}    created in the last 30 days

RFM (scores 1..5 in contact_stats, rebuilt with the purchase stats; 5 is best)
    {"rfm": {"r": {"gte": 4}, "f": {"gte": 4}, "m": {"eq": 5}}}

Built-in segments (names reserved): all, new, potential, past_buyers, loyal, vip, at_risk,
inactive, wholesale, retail; see `builtins.py` for their rules.
"""

from __future__ import annotations

from loa.services.segments.builtins import BUILTINS
from loa.services.segments.compile import birthday_mmdd, compile_rule
from loa.services.segments.rules import parse_rule, rule_from_text
from loa.services.segments.service import (
    PreviewRow,
    Segment,
    count_segment,
    create_segment,
    delete_segment,
    get_segment,
    list_segments,
    preview_segment,
    segment_members,
)

__all__ = [
    "BUILTINS",
    "PreviewRow",
    "Segment",
    "birthday_mmdd",
    "compile_rule",
    "count_segment",
    "create_segment",
    "delete_segment",
    "get_segment",
    "list_segments",
    "parse_rule",
    "preview_segment",
    "rule_from_text",
    "segment_members",
]
