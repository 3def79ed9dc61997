"""Workspace isolation: a key of one workspace gets 404 for every endpoint given another
workspace's ids or names, and its lists never show the other's rows."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.integration import test_api_support
from tests.integration.test_api_support import Api

from loa.store.tables import audit_log, campaigns, contacts, routes

api = test_api_support.api

# (method, path with {placeholders} for workspace A's ids/names, JSON body)
CASES: list[tuple[str, str, Any]] = [
    ("GET", "/api/v1/contacts/{contact_id}", None),
    ("PATCH", "/api/v1/contacts/{contact_id}", {"name": "Kẻ lạ"}),
    ("DELETE", "/api/v1/contacts/{contact_id}", None),
    ("GET", "/api/v1/contacts/{contact_id}/export", None),
    ("PATCH", "/api/v1/users/{user_id}", {"role": "analyst"}),
    ("DELETE", "/api/v1/keys/{key_id}", None),
    ("GET", "/api/v1/segments/{name}", None),
    ("DELETE", "/api/v1/segments/{name}", None),
    ("GET", "/api/v1/segments/{name}/preview", None),
    ("DELETE", "/api/v1/routes/{route_name}", None),
    ("GET", "/api/v1/vouchers/{batch}", None),
    ("POST", "/api/v1/vouchers/redeem", {"code": "{voucher}", "by": "x"}),
    ("GET", "/api/v1/campaigns/{campaign_id}", None),
    ("POST", "/api/v1/campaigns/{campaign_id}/plan", None),
    ("POST", "/api/v1/campaigns/{campaign_id}/start", None),
    ("POST", "/api/v1/campaigns/{campaign_id}/pause", None),
    ("POST", "/api/v1/campaigns/{campaign_id}/resume", None),
    ("POST", "/api/v1/campaigns/{campaign_id}/cancel", None),
    ("POST", "/api/v1/campaigns/{campaign_id}/approve", {}),
    ("POST", "/api/v1/campaigns/{campaign_id}/reject", {}),
    ("GET", "/api/v1/campaigns/{campaign_id}/report", None),
    ("POST", "/api/v1/webhooks/{route_id}/receipts", [{"id": "x", "status": "DELIVERED"}]),
    ("POST", "/api/v1/webhooks/{route_id}/inbound", {"phone": "0912345678", "text": "TC"}),
]


@pytest.fixture
def owned(api: Api) -> dict[str, Any]:
    """One of everything in workspace A (the default one)."""
    a = api
    contact = a.post("/api/v1/contacts", json={"phone": "0912345678", "name": "An"}).json()
    a.post(
        "/api/v1/segments",
        json={"name": "vip-a", "rule": {"attr": "province", "op": "eq", "value": "Huế"}},
    )
    route = a.post(
        "/api/v1/routes",
        json={
            "name": "nha-mang-a",
            "kind": "http-sms",
            "settings": {"url": "https://sms.example.vn/send", "auth": "bearer", "token": "s3"},
        },
    )
    assert route.status_code == 201, route.text
    vouchers = a.post("/api/v1/vouchers", json={"batch": "tet-a", "count": 1})
    assert vouchers.status_code == 201, vouchers.text
    code = a.get("/api/v1/vouchers/tet-a").json()["items"][0]["code"]
    campaign = a.post(
        "/api/v1/campaigns",
        json={
            "name": "Sale A",
            "class": "cskh",
            "sender": "SHOPA",
            "include": ["all"],
            "texts": ["Don hang da giao"],
        },
    ).json()
    users = a.get("/api/v1/users").json()["items"]
    keys = a.get("/api/v1/keys").json()["items"]
    return {
        "contact_id": contact["id"],
        "user_id": users[0]["id"],
        "key_id": keys[0]["id"],
        "name": "vip-a",
        "route_name": "nha-mang-a",
        "route_id": route.json()["id"],
        "batch": "tet-a",
        "voucher": code,
        "campaign_id": campaign["id"],
    }


def fill(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), value)
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    return value


def snapshot(api: Api) -> tuple[Any, ...]:
    with api.store.engine.connect() as conn:
        return (
            conn.execute(select(contacts.c.id, contacts.c.name)).all(),
            conn.execute(select(campaigns.c.id, campaigns.c.state)).all(),
            conn.execute(select(routes.c.id)).all(),
        )


@pytest.mark.parametrize(("method", "path", "body"), CASES, ids=[f"{m} {p}" for m, p, _ in CASES])
def test_another_workspace_gets_404_for_every_id(
    api: Api, owned: dict[str, Any], method: str, path: str, body: Any
) -> None:
    before = snapshot(api)
    answer = api.client.request(
        method,
        fill(path, owned),
        json=fill(body, owned),
        headers=api.auth("other"),
    )
    assert answer.status_code == 404, answer.text
    assert set(answer.json()) == {"code", "message", "field"}
    assert snapshot(api) == before
    # The owner reaches the same thing (the 404 is about the workspace, not a typo).
    if method == "GET":
        assert api.client.get(fill(path, owned), headers=api.auth()).status_code == 200


def test_every_endpoint_that_takes_an_id_or_a_name_is_in_the_table(api: Api) -> None:
    schema = api.client.get("/api/v1/openapi.json").json()
    covered = {(m, re.sub(r"\{\w+\}", "{}", p)) for m, p, _ in CASES}
    missing = [
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        if "{" in path and not path.startswith("/api/v1/automations")
        for method in operations
        if (method.upper(), re.sub(r"\{\w+\}", "{}", path)) not in covered
    ]
    assert missing == []


def test_lists_show_only_the_callers_workspace(api: Api, owned: dict[str, Any]) -> None:
    for path in (
        "/api/v1/contacts",
        "/api/v1/campaigns",
        "/api/v1/routes",
        "/api/v1/keys",
        "/api/v1/approvals",
    ):
        items = api.get(path, who="other").json()["items"]
        assert all(i.get("name") != "Sale A" for i in items)
        assert path == "/api/v1/keys" or items == [], path
    assert api.get("/api/v1/workspaces", who="other").json()["items"] == [
        {"slug": "chi-nhanh-2", "name": "chi-nhanh-2", "current": True}
    ]
    assert [u["email"] for u in api.get("/api/v1/users", who="other").json()["items"]] == [
        "b@other.vn"
    ]
    segments = [s["name"] for s in api.get("/api/v1/segments", who="other").json()["items"]]
    assert "vip-a" not in segments
    assert api.get("/api/v1/vouchers", who="other").json()["items"] == []
    audit = api.get("/api/v1/audit", who="other").json()["items"]
    with api.store.engine.connect() as conn:
        theirs = conn.execute(
            select(func.count()).where(audit_log.c.workspace_id == api.other)
        ).scalar_one()
    assert len(audit) == theirs
    # Routes never show their secrets, even to their own workspace.
    mine = api.get("/api/v1/routes").json()["items"][0]
    assert mine["settings"]["token"] == "***"
