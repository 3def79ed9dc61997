"""Provider webhooks: an HTTP SMS provider's delivery reports settle the messages they name,
and an inbound 'TC' reply opts the sender out; both authenticated by a scoped API key."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select
from tests.integration import test_api_support
from tests.integration.test_api_support import Api

from loa.store.tables import opt_outs, outbox

api = test_api_support.api

ROUTE = {
    "name": "vn-http",
    "kind": "http-sms",
    "settings": {
        "url": "https://sms.example.vn/send",
        "webhook": {
            "list_path": "reports",
            "id_path": "msg_id",
            "status_path": "state",
            "status_map": {"DELIVRD": "delivered", "UNDELIV": "undelivered"},
        },
    },
}


def test_delivery_reports_settle_the_messages_they_name(api: Api) -> None:
    route = api.post("/api/v1/routes", json=ROUTE)
    assert route.status_code == 201, route.text
    now = datetime.now(UTC)
    with api.store.engine.begin() as conn:
        for i, pid in enumerate(("p-1", "p-2")):
            conn.execute(
                insert(outbox).values(
                    workspace_id=api.store.workspace_id,
                    idempotency_key=f"t:{i}",
                    phone=f"+8491234567{i}",
                    **{"class": "cskh"},
                    decision="send",
                    status="submitted",
                    route="vn-http",
                    provider_id=pid,
                    submitted_at=now,
                )
            )
    body = {
        "reports": [
            {"msg_id": "p-1", "state": "DELIVRD"},
            {"msg_id": "p-2", "state": "UNDELIV"},
            {"msg_id": "p-9", "state": "DELIVRD"},
        ]
    }
    # Providers that can only be given a URL pass the key in it.
    answer = api.client.post(
        f"/api/v1/webhooks/{route.json()['id']}/receipts?key={api.keys['events']}", json=body
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"receipts": 3, "matched": 2, "kept_unmatched": 1}
    with api.store.engine.connect() as conn:
        states = dict(conn.execute(select(outbox.c.provider_id, outbox.c.status)).all())
    assert states == {"p-1": "delivered", "p-2": "undelivered"}

    wrong_key = api.client.post(
        f"/api/v1/webhooks/{route.json()['id']}/receipts?key=loa_nope", json=body
    )
    assert wrong_key.status_code == 401
    no_scope = api.client.post(
        f"/api/v1/webhooks/{route.json()['id']}/receipts",
        json=body,
        headers={
            "Authorization": "Bearer "
            + api.post("/api/v1/keys", json={"name": "ro", "scopes": ["contacts:read"]}).json()[
                "key"
            ]
        },
    )
    assert no_scope.status_code == 403


def test_an_inbound_refusal_opts_the_sender_out(api: Api) -> None:
    route = api.post("/api/v1/routes", json=ROUTE).json()
    answer = api.post(
        f"/api/v1/webhooks/{route['id']}/inbound",
        who="events",
        json={"phone": "0912345678", "text": "TC", "to": "6058", "id": "in-1"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["intent"] == "opt_out"
    again = api.post(
        f"/api/v1/webhooks/{route['id']}/inbound",
        who="events",
        json={"phone": "0912345678", "text": "TC", "to": "6058", "id": "in-1"},
    )
    assert again.json()["duplicate"] is True
    with api.store.engine.connect() as conn:
        refused = conn.execute(select(opt_outs.c.phone)).scalars().all()
    assert refused == ["+84912345678"]
