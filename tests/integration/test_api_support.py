"""Shared set-up for the API tests: an app over the test store, users and keys in two
workspaces. (No tests here; imported by test_api*.py.)"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from argon2 import PasswordHasher

from loa.config import Settings
from loa.server import create_app
from loa.services.accounts import PERMISSIONS, create_key, create_user
from loa.services.accounts import users as users_module
from loa.services.workspaces import create_workspace
from loa.store.db import Store

with warnings.catch_warnings():
    # Starlette asks for its httpx fork (httpx2), which is not installed; plain httpx works.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PASSWORD = "mat-khau-rat-dai"


@dataclass
class Api:
    client: TestClient
    store: Store
    other: int  # the second workspace's id
    keys: dict[str, str]  # "owner" / "other" / "events" -> key

    def auth(self, who: str = "owner") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def get(self, path: str, who: str = "owner", **kw: Any) -> Any:
        return self.client.get(path, headers={**self.auth(who), **kw.pop("headers", {})}, **kw)

    def post(self, path: str, who: str = "owner", **kw: Any) -> Any:
        return self.client.post(path, headers={**self.auth(who), **kw.pop("headers", {})}, **kw)

    def sign_in(self, email: str) -> str:
        """Sign in with the session cookie; the CSRF token."""
        answer = self.client.post(
            "/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["csrf_token"])


@pytest.fixture
def api(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    # Still Argon2id, with the cheapest parameters: the tests sign in often on a shared CPU.
    monkeypatch.setattr(users_module, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
    other = create_workspace(store.engine, "chi-nhanh-2")
    keys: dict[str, str] = {}
    with store.engine.begin() as conn:
        for email, role in (
            ("lan@shop.vn", "owner"),
            ("minh@shop.vn", "marketer"),
            ("ha@shop.vn", "analyst"),
            ("tu@shop.vn", "admin"),
        ):
            create_user(
                conn, workspace_id=store.workspace_id, email=email, password=PASSWORD, role=role
            )
        create_user(conn, workspace_id=other, email="b@other.vn", password=PASSWORD, role="owner")
        keys["owner"] = create_key(
            conn, workspace_id=store.workspace_id, name="all", scopes=PERMISSIONS, actor="t"
        )[1]
        keys["other"] = create_key(
            conn, workspace_id=other, name="all", scopes=PERMISSIONS, actor="t"
        )[1]
        keys["events"] = create_key(
            conn, workspace_id=store.workspace_id, name="site", scopes=["events:write"], actor="t"
        )[1]
    app = create_app(Settings(database_url=str(store.engine.url)), store=store)
    with TestClient(app) as client:
        yield Api(client, store, other, keys)
