"""Users, passwords (Argon2id), TOTP, sign-in with lockout and rate limits, and sessions."""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, func, insert, select, update

from loa.i18n import Lang, LoaError, Msg
from loa.services import audit
from loa.services.accounts.roles import ROLE_PERMISSIONS, ROLES, Principal, Role
from loa.services.accounts.settings import get_settings
from loa.store.tables import login_failures, user_sessions, users, workspaces

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10
IP_FAILURES_PER_15_MIN = 30  # from one address, over every account it tries

_hasher = PasswordHasher()
# Verified when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("loa-not-a-real-password")

BAD_EMAIL = Msg(
    "accounts.bad_email",
    "Email '{email}' không hợp lệ; ví dụ: ten@congty.vn.",
    "The email '{email}' is not valid; e.g. name@company.com.",
)
WEAK_PASSWORD = Msg(
    "accounts.weak_password",
    "Mật khẩu cần ít nhất {n} ký tự.",
    "The password needs at least {n} characters.",
)
BAD_ROLE = Msg(
    "accounts.bad_role",
    "Vai trò '{role}' không có; chọn một trong: {roles}.",
    "There is no role '{role}'; choose one of: {roles}.",
)
BAD_LANG = Msg(
    "accounts.bad_lang",
    "Ngôn ngữ '{lang}' không có; chọn vi hoặc en.",
    "There is no language '{lang}'; choose vi or en.",
)
USER_EXISTS = Msg(
    "accounts.user_exists",
    "Đã có người dùng {email} trong workspace này.",
    "There is already a user {email} in this workspace.",
)
UNKNOWN_USER = Msg(
    "accounts.unknown_user",
    "Không có người dùng #{id} trong workspace này.",
    "There is no user #{id} in this workspace.",
)
BAD_CREDENTIALS = Msg(
    "accounts.bad_credentials",
    "Email hoặc mật khẩu không đúng.",
    "The email or the password is wrong.",
)
LOCKED = Msg(
    "accounts.locked",
    "Tài khoản tạm khoá sau {n} lần đăng nhập sai; thử lại sau {minutes} phút hoặc nhờ quản "
    "trị viên mở khoá.",
    "The account is locked after {n} failed sign-ins; try again in {minutes} minutes or ask "
    "an admin to unlock it.",
)
RATE_LIMITED = Msg(
    "accounts.rate_limited",
    "Quá nhiều lần đăng nhập sai từ địa chỉ này; thử lại sau 15 phút.",
    "Too many failed sign-ins from this address; try again in 15 minutes.",
)
TOTP_REQUIRED = Msg(
    "accounts.totp_required",
    "Nhập mã 6 số từ ứng dụng xác thực (trường totp_code).",
    "Enter the 6-digit code from your authenticator app (field totp_code).",
)
TOTP_ENROLL = Msg(
    "accounts.totp_enroll_required",
    "Workspace này bắt buộc xác thực hai lớp cho chủ sở hữu và quản trị viên: chạy 'loa users "
    "totp {email}' rồi thêm mã vào ứng dụng xác thực.",
    "This workspace requires a second factor for owners and admins: run 'loa users totp "
    "{email}' and add the code to your authenticator app.",
)
TOTP_WRONG = Msg(
    "accounts.totp_wrong",
    "Mã xác thực không đúng hoặc đã hết hạn; nhập mã mới nhất trong ứng dụng.",
    "The authentication code is wrong or expired; enter the newest code from the app.",
)
API_ONLY = Msg(
    "accounts.api_only",
    "Vai trò developer chỉ dùng khoá API, không đăng nhập bảng điều khiển.",
    "The developer role uses API keys only and cannot sign in to the dashboard.",
)


@dataclass(frozen=True, slots=True)
class SignIn:
    """A successful sign-in: who, the session cookie's token and the CSRF token."""

    principal: Principal
    session_token: str
    csrf_token: str
    expires_at: datetime


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check(email: str, password: str | None, role: str, lang: str) -> str:
    email = email.strip().lower()
    if not EMAIL.match(email) or len(email) > 254:
        raise LoaError(BAD_EMAIL, email=email)
    if password is not None and len(password) < MIN_PASSWORD:
        raise LoaError(WEAK_PASSWORD, n=MIN_PASSWORD)
    if role not in ROLES:
        raise LoaError(BAD_ROLE, role=role, roles=", ".join(ROLES))
    if lang not in ("vi", "en"):
        raise LoaError(BAD_LANG, lang=lang)
    return email


def create_user(
    conn: Connection,
    *,
    workspace_id: int,
    email: str,
    password: str,
    role: str,
    lang: str = "vi",
    name: str | None = None,
    actor: str = "system",
) -> int:
    """Add a user to a workspace; its id. The password is kept only as an Argon2id hash."""
    email = _check(email, password, role, lang)
    found = conn.execute(
        select(users.c.id).where(users.c.workspace_id == workspace_id, users.c.email == email)
    ).first()
    if found:
        raise LoaError(USER_EXISTS, email=email)
    user_id = conn.execute(
        insert(users)
        .values(
            workspace_id=workspace_id,
            email=email,
            name=name,
            password_hash=_hasher.hash(password),
            role=role,
            lang=lang,
        )
        .returning(users.c.id)
    ).scalar_one()
    audit.record(
        conn,
        workspace_id=workspace_id,
        actor=actor,
        action="user.create",
        target=f"user:{email}",
        details={"role": role},
    )
    return int(user_id)


def list_users(conn: Connection, *, workspace_id: int) -> list[dict[str, Any]]:
    """The workspace's users, without secrets."""
    rows = conn.execute(
        select(
            users.c.id,
            users.c.email,
            users.c.name,
            users.c.role,
            users.c.lang,
            (users.c.totp_secret.is_not(None)).label("totp"),
            users.c.disabled,
            users.c.locked_until,
            users.c.last_login_at,
            users.c.created_at,
        )
        .where(users.c.workspace_id == workspace_id)
        .order_by(users.c.id)
    ).all()
    return [dict(r._mapping) for r in rows]


def update_user(
    conn: Connection,
    *,
    workspace_id: int,
    user_id: int,
    actor: str,
    role: str | None = None,
    lang: str | None = None,
    disabled: bool | None = None,
    unlock: bool = False,
) -> dict[str, Any]:
    """Change a user's role, language or access; audited."""
    row = conn.execute(
        select(users).where(users.c.workspace_id == workspace_id, users.c.id == user_id)
    ).first()
    if row is None:
        raise LoaError(UNKNOWN_USER, id=user_id)
    _check(row.email, None, role or row.role, lang or row.lang)
    values: dict[str, Any] = {}
    if role is not None:
        values["role"] = role
    if lang is not None:
        values["lang"] = lang
    if disabled is not None:
        values["disabled"] = disabled
    if unlock:
        values.update(failed_logins=0, locked_until=None)
    if values:
        conn.execute(update(users).where(users.c.id == user_id).values(**values))
        if disabled:
            conn.execute(delete(user_sessions).where(user_sessions.c.user_id == user_id))
        audit.record(
            conn,
            workspace_id=workspace_id,
            actor=actor,
            action="user.update",
            target=f"user:{row.email}",
            details={k: v for k, v in values.items() if k != "locked_until"},
        )
    return next(u for u in list_users(conn, workspace_id=workspace_id) if u["id"] == user_id)


def enroll_totp(conn: Connection, *, workspace_id: int, user_id: int, actor: str) -> str:
    """Give a user a new TOTP secret; the otpauth:// URI to show once as text or a QR code."""
    row = conn.execute(
        select(users.c.email).where(users.c.workspace_id == workspace_id, users.c.id == user_id)
    ).first()
    if row is None:
        raise LoaError(UNKNOWN_USER, id=user_id)
    secret = pyotp.random_base32()
    conn.execute(update(users).where(users.c.id == user_id).values(totp_secret=secret))
    audit.record(
        conn,
        workspace_id=workspace_id,
        actor=actor,
        action="user.totp_enrol",
        target=f"user:{row.email}",
    )
    return pyotp.TOTP(secret).provisioning_uri(name=row.email, issuer_name="Loa")


def check_password(conn: Connection, *, user_id: int, password: str) -> None:
    """Raise accounts.bad_credentials unless `password` is the user's (for sensitive changes)."""
    stored = conn.execute(select(users.c.password_hash).where(users.c.id == user_id)).scalar()
    try:
        if stored is not None and _hasher.verify(stored, password):
            return
    except (VerificationError, InvalidHashError):
        pass
    raise LoaError(BAD_CREDENTIALS)


def _fail(
    conn: Connection,
    *,
    email: str,
    ip: str,
    now: datetime,
    user: Any | None,
    reason: str,
    lock_after: int,
    lock_minutes: int,
) -> None:
    # In a transaction of its own: the caller rolls back on the error we raise next, and a
    # failure that was rolled back would never count toward the lockout.
    with conn.engine.begin() as own:
        own.execute(insert(login_failures).values(ip=ip[:64], email=email[:254], at=now))
        if user is not None:
            failed = int(user.failed_logins) + 1
            values: dict[str, Any] = {"failed_logins": failed}
            if failed >= lock_after:
                values["locked_until"] = now + timedelta(minutes=lock_minutes)
            own.execute(update(users).where(users.c.id == user.id).values(**values))
            audit.record(
                own,
                workspace_id=int(user.workspace_id),
                actor=email,
                action="signin.failed",
                target=f"user:{email}",
                details={"ip": ip, "reason": reason, "failed_in_a_row": failed},
                now=now,
            )


def sign_in(
    conn: Connection,
    *,
    email: str,
    password: str,
    ip: str,
    totp_code: str | None = None,
    workspace_slug: str | None = None,
    now: datetime | None = None,
) -> SignIn:
    """Check a password (and TOTP code) and open a session; every attempt is audited."""
    when = now or datetime.now(UTC)
    email = email.strip().lower()
    recent = conn.execute(
        select(func.count())
        .select_from(login_failures)
        .where(login_failures.c.ip == ip[:64], login_failures.c.at > when - timedelta(minutes=15))
    ).scalar_one()
    if recent >= IP_FAILURES_PER_15_MIN:
        raise LoaError(RATE_LIMITED)
    query = (
        select(users, workspaces.c.slug)
        .join(workspaces, workspaces.c.id == users.c.workspace_id)
        .where(users.c.email == email, users.c.disabled.is_(False))
        .order_by(users.c.id)
    )
    if workspace_slug is not None:
        query = query.where(workspaces.c.slug == workspace_slug)
    candidates = conn.execute(query).all()
    user = None
    for row in candidates:
        try:
            if _hasher.verify(row.password_hash, password):
                user = row
                break
        except (VerificationError, InvalidHashError):
            continue
    if not candidates:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
    target = user or (candidates[0] if candidates else None)
    settings = get_settings(conn, int(target.workspace_id)) if target is not None else None
    lock_after = settings.lockout_after if settings else 5
    lock_minutes = settings.lockout_minutes if settings else 15
    if target is not None and target.locked_until is not None and target.locked_until > when:
        # Locked accounts say so even to the right password, but learn nothing new.
        minutes = max(1, math.ceil((target.locked_until - when).total_seconds() / 60))
        raise LoaError(LOCKED, n=lock_after, minutes=minutes)

    def fail(msg: Msg, reason: str) -> LoaError:
        _fail(
            conn,
            email=email,
            ip=ip,
            now=when,
            user=target,
            reason=reason,
            lock_after=lock_after,
            lock_minutes=lock_minutes,
        )
        return LoaError(msg)

    if user is None or settings is None:
        raise fail(BAD_CREDENTIALS, "password")
    if user.role == "developer":
        raise LoaError(API_ONLY)
    if user.totp_secret is None and settings.require_totp and user.role in ("owner", "admin"):
        raise LoaError(TOTP_ENROLL, email=email)
    if user.totp_secret is not None:
        if not totp_code:
            raise LoaError(TOTP_REQUIRED)
        if not pyotp.TOTP(user.totp_secret).verify(
            totp_code.strip(), for_time=when, valid_window=1
        ):
            raise fail(TOTP_WRONG, "totp")
    conn.execute(
        update(users)
        .where(users.c.id == user.id)
        .values(failed_logins=0, locked_until=None, last_login_at=when)
    )
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    expires = when + timedelta(hours=settings.session_hours)
    conn.execute(
        insert(user_sessions).values(
            token_hash=_token_hash(token),
            user_id=user.id,
            workspace_id=user.workspace_id,
            csrf_token=csrf,
            ip=ip[:64],
            created_at=when,
            expires_at=expires,
        )
    )
    audit.record(
        conn,
        workspace_id=int(user.workspace_id),
        actor=email,
        action="signin.ok",
        target=f"user:{email}",
        details={"ip": ip},
        now=when,
    )
    return SignIn(_principal(user, user.slug), token, csrf, expires)


def _principal(row: Any, slug: str) -> Principal:
    role = cast(Role, row.role)
    return Principal(
        workspace_id=int(row.workspace_id),
        workspace_slug=slug,
        user_id=int(row.id),
        key_id=None,
        email=row.email,
        role=role,
        lang=cast(Lang, row.lang if row.lang in ("vi", "en") else "vi"),
        scopes=ROLE_PERMISSIONS[role],
    )


def session_principal(
    conn: Connection, token: str, now: datetime | None = None
) -> tuple[Principal, str] | None:
    """The user behind a session cookie and the session's CSRF token; None when not valid."""
    when = now or datetime.now(UTC)
    row = conn.execute(
        select(users, workspaces.c.slug, user_sessions.c.csrf_token, user_sessions.c.expires_at)
        .select_from(
            user_sessions.join(users, users.c.id == user_sessions.c.user_id).join(
                workspaces, workspaces.c.id == users.c.workspace_id
            )
        )
        .where(user_sessions.c.token_hash == _token_hash(token))
    ).first()
    if row is None or row.expires_at <= when or row.disabled or row.role == "developer":
        return None
    return _principal(row, row.slug), str(row.csrf_token)


def sign_out(conn: Connection, token: str) -> None:
    """End a session (the cookie stops working at once)."""
    conn.execute(delete(user_sessions).where(user_sessions.c.token_hash == _token_hash(token)))
