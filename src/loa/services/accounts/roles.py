"""Roles, permissions and the principal a request acts as."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

from loa.i18n import Lang

Role = Literal["owner", "admin", "marketer", "analyst", "developer"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)

PERMISSIONS: Final[tuple[str, ...]] = (
    "contacts:read",
    "contacts:write",
    "contacts:export",
    "contacts:erase",
    "events:write",
    "segments:read",
    "segments:write",
    "campaigns:read",
    "campaigns:write",
    "campaigns:send",
    "campaigns:approve",
    "reports:read",
    "settings:read",
    "settings:write",
    "users:write",
    "keys:write",
    "audit:read",
)
_READ: Final = frozenset(p for p in PERMISSIONS if p.endswith(":read"))

ROLE_PERMISSIONS: Final[dict[Role, frozenset[str]]] = {
    "owner": frozenset(PERMISSIONS),
    "admin": frozenset(PERMISSIONS),
    # Marketers run campaigns but neither approve them (four eyes), erase people, nor manage
    # who may sign in.
    "marketer": _READ
    | {
        "contacts:write",
        "contacts:export",
        "events:write",
        "segments:write",
        "campaigns:write",
        "campaigns:send",
    },
    "analyst": _READ,
    # Developers integrate through API keys; their keys carry their own scopes.
    "developer": frozenset(
        {"contacts:read", "contacts:write", "events:write", "segments:read", "campaigns:read"}
    ),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as: a signed-in user or an API key, always inside one workspace."""

    workspace_id: int
    workspace_slug: str
    user_id: int | None
    key_id: int | None
    email: str
    role: Role
    lang: Lang
    scopes: frozenset[str]

    @property
    def actor(self) -> str:
        """The name written in the audit log and in campaign histories."""
        return self.email if self.key_id is None else f"key:{self.email}"


def allowed(principal: Principal, permission: str) -> bool:
    """True when `principal` may do `permission` (e.g. 'campaigns:send')."""
    if principal.key_id is not None:
        return permission in principal.scopes
    return permission in ROLE_PERMISSIONS[principal.role]
