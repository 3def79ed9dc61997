"""Accounts rules without a database: who may do what, settings checks, approval reasons."""

from __future__ import annotations

import pytest

from loa.i18n import LoaError
from loa.services.accounts import PERMISSIONS, ROLE_PERMISSIONS, Principal, allowed
from loa.services.accounts.approvals import _domains, describe
from loa.services.accounts.settings import WorkspaceSettings, _validated


def principal(role: str, scopes: frozenset[str] = frozenset(), key: bool = False) -> Principal:
    return Principal(
        1, "default", None if key else 1, 1 if key else None, "a@b.vn", role, "vi", scopes
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("role", "permission", "expected"),
    [
        ("owner", "campaigns:approve", True),
        ("admin", "users:write", True),
        ("marketer", "campaigns:send", True),
        ("marketer", "contacts:export", True),
        ("marketer", "campaigns:approve", False),
        ("marketer", "contacts:erase", False),
        ("marketer", "keys:write", False),
        ("analyst", "reports:read", True),
        ("analyst", "audit:read", True),
        ("analyst", "campaigns:send", False),
        ("analyst", "contacts:export", False),
    ],
)
def test_each_role_grants_what_its_job_needs(role: str, permission: str, expected: bool) -> None:
    assert allowed(principal(role), permission) is expected


def test_an_analyst_reads_everything_and_changes_nothing() -> None:
    assert ROLE_PERMISSIONS["analyst"] == {p for p in PERMISSIONS if p.endswith(":read")}


def test_a_key_is_limited_to_its_scopes_whatever_its_role() -> None:
    key = principal("developer", frozenset({"events:write"}), key=True)
    assert allowed(key, "events:write")
    assert not allowed(key, "contacts:read")
    assert key.actor == "key:a@b.vn"


def test_settings_are_checked_and_refused_with_the_valid_range() -> None:
    defaults = WorkspaceSettings()
    assert _validated(defaults, {"lockout_after": 3}).lockout_after == 3
    with pytest.raises(LoaError) as wrong:
        _validated(defaults, {"lockout_after": 0})
    assert wrong.value.render("en") == "The setting 'lockout_after' is not valid: 0. 1..100"
    with pytest.raises(LoaError) as kind:
        _validated(defaults, {"require_totp": "yes"})
    assert kind.value.render("en") == "The setting 'require_totp' is not valid: 'yes'. true / false"
    with pytest.raises(LoaError) as hours:
        _validated(defaults, {"usual_hours_start": 22, "usual_hours_end": 8})
    assert hours.value.render("en") == (
        "The setting 'usual_hours_end' is not valid: 8. > usual_hours_start (22)"
    )
    with pytest.raises(LoaError) as unknown:
        _validated(defaults, {"colour": "red"})
    assert unknown.value.code == "accounts.bad_setting"


def test_link_domains_are_read_from_message_texts() -> None:
    assert _domains(
        ["Xem https://www.Shop.vn/sale va http://bit.ly/x", "Goi 1900 1234", "www.shop.vn/a"]
    ) == {"shop.vn", "bit.ly"}


def test_approval_reasons_read_as_sentences_in_both_languages() -> None:
    reasons = [
        {"code": "recipients", "n": 12000, "limit": 10000},
        {"code": "new_domain", "domains": "khuyen-mai.vn"},
        {"code": "hours", "hour": 23, "start": 8, "end": 21},
    ]
    assert describe(reasons, "en") == (
        "12000 recipients, above the limit of 10000; links to a new domain: khuyen-mai.vn; "
        "sent at 23:00, outside the usual hours 8:00–21:00"
    )
    assert describe(reasons[2:], "vi") == "gửi lúc 23h, ngoài giờ thường lệ 8h–21h"
