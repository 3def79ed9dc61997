"""Automations over the REST API and the CLI: create, list, pause, resume, history; an event
posted twice through the API answered once; errors that name the field and the fix."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from tests.integration import test_api_support
from tests.integration.test_api_support import Api
from tests.integration.test_automations import ORDER_TEXT, add_contact, messages
from typer.testing import CliRunner

from loa.cli import app
from loa.services.compliance.brandnames import add_brandname
from loa.services.compliance.templates import add_template

api = test_api_support.api


def _shop(api: Api) -> Api:
    add_brandname(
        api.store,
        "SHOPABC",
        domains=["shop.vn"],
        registered_on=date(2025, 1, 1),
        optout_keyword="TC",
        optout_shortcode="6058",
        hotline="19001234",
    )
    add_template(api.store, "order_confirmation", cls="cskh", text=ORDER_TEXT, approved=True)
    with api.store.engine.begin() as conn:
        add_contact(conn, api.store.workspace_id, "+84912345671", name="Nguyễn Văn An")
    return api


def test_rules_over_the_api_answer_an_api_event_once(api: Api) -> None:
    shop = _shop(api)
    made = shop.post(
        "/api/v1/automations",
        json={"events": ["order_completed"], "template": "order_confirmation",
              "sender": "SHOPABC", "name": "orders", "conditions": ["value_vnd>=1000"]},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    assert made.json()["events"] == ["order_completed"]
    assert made.json()["timing"] == {"mode": "now"}
    event = {"phone": "0912345671", "type": "order_completed", "external_id": "DH9",
             "value_vnd": 250000, "properties": {"order_id": "DH9"}}  # fmt: skip
    assert shop.post("/api/v1/events", who="events", json=event).json()["duplicate"] is False
    assert shop.post("/api/v1/events", who="events", json=event).json()["duplicate"] is True
    sent = messages(shop.store)
    assert [m["text"] for m in sent] == [
        "Don hang DH9 tri gia 250.000d da duoc xac nhan. Cam on An!"
    ]
    history = shop.get("/api/v1/automations/orders/history").json()["items"]
    assert [(h["status"], h["channel"], h["message"], h["phone"]) for h in history] == [
        ("queued", "sms", "queued", "+8491****671")
    ]
    paused = shop.post("/api/v1/automations/orders/pause")
    assert paused.json()["state"] == "paused"
    event2 = {**event, "external_id": "DH10", "properties": {"order_id": "DH10"}}
    shop.post("/api/v1/events", who="events", json=event2)
    assert len(messages(shop.store)) == 1
    assert shop.post("/api/v1/automations/orders/resume").json()["state"] == "active"
    listed = shop.get("/api/v1/automations").json()["items"]
    assert [a["name"] for a in listed] == ["orders"]


def test_api_errors_name_the_field_and_the_fix(api: Api) -> None:
    shop = _shop(api)
    bad = shop.post(
        "/api/v1/automations",
        json={"events": ["order_completed"], "template": "order_confirmation",
              "sender": "SHOPABC", "delay": "tomorrow-ish"},
    )  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["field"] == "delay"
    assert bad.json()["message"].startswith("Thời điểm gửi 'tomorrow-ish' không hợp lệ; viết: now")
    missing = shop.get("/api/v1/automations/nope")
    assert missing.status_code == 404
    # Another workspace's key sees none of these rules.
    shop.post(
        "/api/v1/automations",
        json={"events": ["order_completed"], "template": "order_confirmation",
              "sender": "SHOPABC", "name": "mine"},
    )  # fmt: skip
    assert shop.get("/api/v1/automations/mine", who="other").status_code == 404


def test_the_cli_creates_lists_pauses_and_shows_history(api: Api, tmp_path: Path) -> None:
    shop = _shop(api)
    url = shop.store.engine.url.render_as_string(hide_password=False)
    runner = CliRunner()

    def loa(*args: str) -> str:
        result = runner.invoke(app, ["--db", url, "--lang", "en", *args])
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())  # as read, whatever the terminal's width

    created = loa("automations", "create", "--event", "order_completed", "--template",
                  "order_confirmation", "--sender", "SHOPABC", "--name", "orders")  # fmt: skip
    assert "Created automation 'orders'" in created
    assert created == (
        "Created automation 'orders' (#1): order_completed -> order_confirmation, sms, sent now."
    )
    sent = loa("events", "send", "order_completed", "--contact", "0912345671", "--id", "X1",
               "--value", "99000", "--props", '{"order_id": "X1"}')  # fmt: skip
    assert sent == (
        "Recorded the order_completed event (#1). Automations: 1 message(s) queued, 0 "
        "suppressed, 0 skipped (see: loa automations history)."
    )
    assert "orders" in loa("automations", "history")
    assert "Paused 'orders'" in loa("automations", "pause", "orders")
    assert "paused" in loa("automations", "list")
    loa("automations", "create", "--event", "daily:birthday", "--template", "birthday",
        "--sender", "SHOPABC", "--voucher-value", "50.000d")  # fmt: skip
    assert loa("automations", "run-daily", "--date", "2026-11-23") == (
        "birthday: 0 queued, 0 vouchers, 0 done before, 0 suppressed, 0 skipped."
    )
    ready = json.loads(loa("automations", "templates", "--json"))
    reminder = next(t for t in ready["templates"] if t["template"] == "appointment_reminder_24h")
    assert reminder["also"] == ["appointment_changed"]
    assert reminder["timing"] == {"mode": "before", "hours": 24, "prop": "starts_at"}
    assert ready["events"]["appointment_cancelled"] == "Appointment cancelled"
    assert len(messages(shop.store)) == 1
