"""Accounts: passwords, lockout, TOTP, sessions, API keys, settings and the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from loa.i18n import LoaError
from loa.services.accounts import (
    Principal,
    allowed,
    create_key,
    create_user,
    enroll_totp,
    key_principal,
    list_keys,
    revoke_key,
    session_principal,
    sign_in,
    sign_out,
    update_settings,
    update_user,
)
from loa.services.accounts import users as users_module
from loa.services.workspaces import create_workspace
from loa.store.db import Store
from loa.store.tables import audit_log, users


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    # Still Argon2id, with the cheapest parameters: these tests hash and verify a lot.
    monkeypatch.setattr(users_module, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))


NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PASSWORD = "mat-khau-rat-dai"


def add(store: Store, email: str = "lan@shop.vn", role: str = "owner", **kw: object) -> int:
    with store.engine.begin() as conn:
        return create_user(
            conn,
            workspace_id=store.workspace_id,
            email=email,
            password=PASSWORD,
            role=role,
            **kw,  # type: ignore[arg-type]
        )


def login(store: Store, email: str = "lan@shop.vn", password: str = PASSWORD, **kw: object):  # type: ignore[no-untyped-def]
    with store.engine.begin() as conn:
        return sign_in(conn, email=email, password=password, ip="203.0.113.7", now=NOW, **kw)  # type: ignore[arg-type]


def actions(store: Store) -> list[tuple[str, str, dict[str, object] | None]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.actor, audit_log.c.action, audit_log.c.details).order_by(
                audit_log.c.id
            )
        ).all()
    return [(r.actor, r.action, r.details) for r in rows]


def test_a_password_is_stored_only_as_an_argon2_hash_and_signs_in(store: Store) -> None:
    add(store, "Lan@Shop.vn", lang="en")
    with store.engine.connect() as conn:
        stored = conn.execute(select(users.c.email, users.c.password_hash)).one()
    assert stored.email == "lan@shop.vn"
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash

    result = login(store, "LAN@shop.vn")
    assert result.principal.email == "lan@shop.vn"
    assert result.principal.role == "owner"
    assert result.principal.lang == "en"
    assert result.principal.workspace_slug == "default"
    assert result.expires_at == NOW + timedelta(hours=12)
    with store.engine.connect() as conn:
        found = session_principal(conn, result.session_token, now=NOW + timedelta(hours=1))
        expired = session_principal(conn, result.session_token, now=NOW + timedelta(hours=13))
    assert found == (result.principal, result.csrf_token)
    assert expired is None
    assert actions(store)[-1] == ("lan@shop.vn", "signin.ok", {"ip": "203.0.113.7"})

    with store.engine.begin() as conn:
        sign_out(conn, result.session_token)
        assert session_principal(conn, result.session_token, now=NOW) is None


def test_weak_passwords_bad_emails_and_unknown_roles_are_refused_in_words(store: Store) -> None:
    with store.engine.begin() as conn, pytest.raises(LoaError) as weak:
        create_user(
            conn, workspace_id=store.workspace_id, email="a@b.vn", password="ngan", role="owner"
        )
    assert weak.value.render() == "Mật khẩu cần ít nhất 10 ký tự."
    with pytest.raises(LoaError) as role:
        add(store, "a@b.vn", role="boss")
    assert role.value.render("en") == (
        "There is no role 'boss'; choose one of: owner, admin, marketer, analyst, developer."
    )
    with pytest.raises(LoaError) as email:
        add(store, "not-an-email")
    assert email.value.code == "accounts.bad_email"
    add(store, "a@b.vn")
    with pytest.raises(LoaError) as twice:
        add(store, "A@B.vn")
    assert twice.value.render("en") == "There is already a user a@b.vn in this workspace."


def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(store: Store) -> None:
    add(store)
    for _ in range(4):
        with pytest.raises(LoaError) as wrong:
            login(store, password="sai-mat-khau-123")
        assert wrong.value.code == "accounts.bad_credentials"
        assert wrong.value.render() == "Email hoặc mật khẩu không đúng."
    with pytest.raises(LoaError):
        login(store, password="sai-mat-khau-123")
    with pytest.raises(LoaError) as locked:
        login(store)
    assert locked.value.code == "accounts.locked"
    assert locked.value.render("en") == (
        "The account is locked after 5 failed sign-ins; try again in 15 minutes or ask an "
        "admin to unlock it."
    )
    failed = [a for a in actions(store) if a[1] == "signin.failed"]
    assert len(failed) == 5
    assert failed[-1][2] == {"ip": "203.0.113.7", "reason": "password", "failed_in_a_row": 5}
    # After the lock ends, the right password works and the count starts again.
    with store.engine.begin() as conn:
        ok = sign_in(
            conn,
            email="lan@shop.vn",
            password=PASSWORD,
            ip="203.0.113.7",
            now=NOW + timedelta(minutes=16),
        )
    assert ok.principal.email == "lan@shop.vn"


def test_an_admin_can_unlock_a_locked_account(store: Store) -> None:
    user = add(store)
    for _ in range(5):
        with pytest.raises(LoaError):
            login(store, password="sai-mat-khau-123")
    with store.engine.begin() as conn:
        update_user(
            conn, workspace_id=store.workspace_id, user_id=user, actor="boss@shop.vn", unlock=True
        )
    assert login(store).principal.user_id == user


def test_one_address_trying_many_accounts_is_rate_limited(store: Store) -> None:
    for i in range(30):
        with pytest.raises(LoaError):
            login(store, f"guess{i}@shop.vn", "mat-khau-doan-bua")
    add(store)
    with pytest.raises(LoaError) as limited:
        login(store)
    assert limited.value.code == "accounts.rate_limited"


def test_totp_is_asked_for_and_checked_once_enrolled(store: Store) -> None:
    user = add(store)
    with store.engine.begin() as conn:
        uri = enroll_totp(conn, workspace_id=store.workspace_id, user_id=user, actor="lan@shop.vn")
    assert uri.startswith("otpauth://totp/Loa:lan%40shop.vn?secret=")
    secret = pyotp.parse_uri(uri).secret
    with pytest.raises(LoaError) as needed:
        login(store)
    assert needed.value.code == "accounts.totp_required"
    with pytest.raises(LoaError) as wrong:
        login(store, totp_code="000000" if pyotp.TOTP(secret).at(NOW) != "000000" else "111111")
    assert wrong.value.code == "accounts.totp_wrong"
    assert login(store, totp_code=pyotp.TOTP(secret).at(NOW)).principal.user_id == user


def test_a_workspace_can_require_totp_of_owners_and_admins_only(store: Store) -> None:
    add(store, "owner@shop.vn", role="owner")
    add(store, "mk@shop.vn", role="marketer")
    with store.engine.begin() as conn:
        update_settings(conn, store.workspace_id, {"require_totp": True}, actor="owner@shop.vn")
    with pytest.raises(LoaError) as enrol:
        login(store, "owner@shop.vn")
    assert enrol.value.code == "accounts.totp_enroll_required"
    assert "loa users totp owner@shop.vn" in enrol.value.render()
    assert login(store, "mk@shop.vn").principal.role == "marketer"
    change = [a for a in actions(store) if a[1] == "settings.change"]
    assert change == [
        (
            "owner@shop.vn",
            "settings.change",
            {"changes": {"require_totp": {"from": False, "to": True}}, "ip": None},
        )
    ]


def test_developers_cannot_sign_in_to_the_dashboard(store: Store) -> None:
    add(store, "dev@shop.vn", role="developer")
    with pytest.raises(LoaError) as dev:
        login(store, "dev@shop.vn")
    assert dev.value.render("en") == (
        "The developer role uses API keys only and cannot sign in to the dashboard."
    )


def test_roles_grant_exactly_their_permissions(store: Store) -> None:
    def who(role: str) -> Principal:
        return Principal(1, "default", 1, None, "x@y.vn", role, "vi", frozenset())  # type: ignore[arg-type]

    assert allowed(who("owner"), "campaigns:approve")
    assert not allowed(who("marketer"), "campaigns:approve")
    assert allowed(who("marketer"), "campaigns:send")
    assert allowed(who("analyst"), "audit:read")
    assert allowed(who("analyst"), "reports:read")
    assert not allowed(who("analyst"), "contacts:write")
    assert not allowed(who("analyst"), "contacts:export")


def test_api_keys_are_shown_once_stored_hashed_scoped_revocable_and_track_use(
    store: Store,
) -> None:
    with store.engine.begin() as conn:
        key_id, key = create_key(
            conn,
            workspace_id=store.workspace_id,
            name="shop website",
            scopes=["events:write", "contacts:read"],
            actor="lan@shop.vn",
        )
    assert key.startswith("loa_") and len(key) > 40
    with store.engine.connect() as conn:
        listed = list_keys(conn, workspace_id=store.workspace_id)
    assert listed[0]["prefix"] == key[:12]
    assert listed[0]["scopes"] == ["contacts:read", "events:write"]
    assert listed[0]["last_used_at"] is None
    assert key not in repr(listed)

    with store.engine.begin() as conn:
        principal = key_principal(conn, key, now=NOW)
    assert principal is not None
    assert principal.key_id == key_id
    assert allowed(principal, "events:write")
    assert not allowed(principal, "campaigns:send")
    with store.engine.connect() as conn:
        assert list_keys(conn, workspace_id=store.workspace_id)[0]["last_used_at"] == NOW

    with store.engine.begin() as conn:
        assert key_principal(conn, key[:-1] + ("A" if key[-1] != "A" else "B")) is None
        revoke_key(conn, workspace_id=store.workspace_id, key_id=key_id, actor="lan@shop.vn")
        assert key_principal(conn, key) is None
    assert [a[1] for a in actions(store)] == ["key.create", "key.revoke"]


def test_unknown_scopes_are_refused_naming_the_valid_ones(store: Store) -> None:
    with store.engine.begin() as conn, pytest.raises(LoaError) as bad:
        create_key(conn, workspace_id=store.workspace_id, name="x", scopes=["send"], actor="a@b.vn")
    assert bad.value.render("en").startswith("There is no scope 'send'; choose from: contacts:read")


def test_the_same_email_in_two_workspaces_signs_in_where_asked(store: Store) -> None:
    other = create_workspace(store.engine, "chi-nhanh-2")
    add(store)
    with store.engine.begin() as conn:
        create_user(
            conn, workspace_id=other, email="lan@shop.vn", password=PASSWORD, role="analyst"
        )
    assert login(store).principal.workspace_slug == "default"
    there = login(store, workspace_slug="chi-nhanh-2").principal
    assert (there.workspace_id, there.role) == (other, "analyst")
