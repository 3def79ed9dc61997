"""Accounts: users and roles, sign-in and sessions, API keys, approvals, idempotency keys."""

from __future__ import annotations

from loa.services.accounts.keys import create_key, key_principal, list_keys, revoke_key
from loa.services.accounts.roles import (
    PERMISSIONS,
    ROLE_PERMISSIONS,
    ROLES,
    Principal,
    Role,
    allowed,
)
from loa.services.accounts.settings import WorkspaceSettings, get_settings, update_settings
from loa.services.accounts.users import (
    SignIn,
    create_user,
    enroll_totp,
    list_users,
    session_principal,
    sign_in,
    sign_out,
    update_user,
)

SESSION_COOKIE = "loa_session"
CSRF_HEADER = "X-CSRF-Token"

__all__ = [
    "CSRF_HEADER",
    "PERMISSIONS",
    "ROLES",
    "ROLE_PERMISSIONS",
    "SESSION_COOKIE",
    "Principal",
    "Role",
    "SignIn",
    "WorkspaceSettings",
    "allowed",
    "create_key",
    "create_user",
    "enroll_totp",
    "get_settings",
    "key_principal",
    "list_keys",
    "list_users",
    "revoke_key",
    "session_principal",
    "sign_in",
    "sign_out",
    "update_settings",
    "update_user",
]
