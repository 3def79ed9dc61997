"""The REST API over a real store: sign-in and cookies, CSRF, scoped keys, JSON errors in the
user's language, cursors, contacts, import, export, erase, events and idempotent POSTs."""

from __future__ import annotations

from sqlalchemy import func, select
from tests.integration import test_api_support
from tests.integration.test_api_support import Api

from loa.store.tables import audit_log, contacts, events

api = test_api_support.api


def audit_actions(a: Api) -> list[tuple[str, str]]:
    with a.store.engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.actor, audit_log.c.action).order_by(audit_log.c.id))
        return [(r.actor, r.action) for r in rows]


def test_health_and_metrics_answer_without_signing_in(api: Api) -> None:
    health = api.client.get("/api/v1/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    api.get("/api/v1/contacts")
    metrics = api.client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'loa_http_requests_total{method="GET",route="/api/v1/health",status="200"} 1.0' in text
    assert 'loa_http_requests_total{method="GET",route="/api/v1/contacts",status="200"} 1.0' in text
    assert "loa_http_request_seconds_bucket" in text


def test_errors_are_json_with_code_message_and_field_in_the_callers_language(api: Api) -> None:
    anonymous = api.client.get("/api/v1/contacts", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert anonymous.status_code == 401
    assert anonymous.json() == {
        "code": "api.unauthenticated",
        "message": "Sign in or send an API key (header Authorization: Bearer loa_...).",
        "field": None,
    }
    bad = api.post("/api/v1/contacts", json={"phone": "12345"})
    assert bad.status_code == 422
    body = bad.json()
    assert body["code"] == "api.bad_phone"
    assert body["field"] == "phone"
    assert body["message"].startswith("Số điện thoại '12345' không hợp lệ")
    missing = api.post("/api/v1/contacts", json={}, headers={"Accept-Language": "en"})
    assert missing.status_code == 422
    assert missing.json()["field"] == "phone"
    assert missing.json()["code"] == "api.invalid"


def test_a_session_cookie_is_httponly_lax_and_unsafe_requests_need_the_csrf_token(
    api: Api,
) -> None:
    answer = api.client.post(
        "/api/v1/auth/sign-in", json={"email": "minh@shop.vn", "password": "mat-khau-rat-dai"}
    )
    assert answer.status_code == 200
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("loa_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http to the test server only
    csrf = answer.json()["csrf_token"]
    assert answer.json()["role"] == "marketer"

    assert api.client.get("/api/v1/auth/me").json()["email"] == "minh@shop.vn"
    refused = api.client.post("/api/v1/contacts", json={"phone": "0912345678"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "api.csrf"
    made = api.client.post(
        "/api/v1/contacts", json={"phone": "0912345678"}, headers={"X-CSRF-Token": csrf}
    )
    assert made.status_code == 201
    # A marketer may not erase people, approve or manage keys.
    erase = api.client.delete(
        f"/api/v1/contacts/{made.json()['id']}", headers={"X-CSRF-Token": csrf}
    )
    assert erase.status_code == 403
    assert erase.json()["message"] == "Vai trò hoặc khoá API này không có quyền 'contacts:erase'."

    out = api.client.post("/api/v1/auth/sign-out", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    assert api.client.get("/api/v1/auth/me").status_code == 401


def test_wrong_passwords_answer_401_then_423_when_locked(api: Api) -> None:
    for _ in range(5):
        wrong = api.client.post(
            "/api/v1/auth/sign-in", json={"email": "ha@shop.vn", "password": "khong-dung-dau"}
        )
        assert wrong.status_code == 401
        assert wrong.json()["code"] == "accounts.bad_credentials"
    locked = api.client.post(
        "/api/v1/auth/sign-in",
        json={"email": "ha@shop.vn", "password": "mat-khau-rat-dai"},
        headers={"Accept-Language": "en"},
    )
    assert locked.status_code == 423
    assert locked.json()["message"].startswith("The account is locked after 5 failed sign-ins")
    assert ("ha@shop.vn", "signin.failed") in audit_actions(api)


def test_a_key_acts_only_within_its_scopes_and_records_its_last_use(api: Api) -> None:
    made = api.post("/api/v1/contacts", json={"phone": "0912345678", "name": "Nguyễn Văn An"})
    assert made.status_code == 201
    event = api.post(
        "/api/v1/events",
        who="events",
        json={"phone": "0912345678", "type": "order", "value_vnd": 250000},
    )
    assert event.status_code == 201
    assert event.json()["duplicate"] is False
    read = api.get("/api/v1/contacts", who="events")
    assert read.status_code == 403
    assert read.json()["code"] == "api.forbidden"
    listed = api.get("/api/v1/keys").json()["items"]
    site = next(k for k in listed if k["name"] == "site")
    assert site["last_used_at"] is not None
    assert "key" not in site and "key_hash" not in site

    revoked = api.client.delete(f"/api/v1/keys/{site['id']}", headers=api.auth())
    assert revoked.status_code == 204
    again = api.post("/api/v1/events", who="events", json={"phone": "0912345678", "type": "x"})
    assert again.status_code == 401


def test_a_new_key_is_shown_once_and_works(api: Api) -> None:
    made = api.post("/api/v1/keys", json={"name": "crm", "scopes": ["contacts:read"]})
    assert made.status_code == 201
    key = made.json()["key"]
    assert key.startswith(made.json()["prefix"])
    assert all("key" not in k for k in api.get("/api/v1/keys").json()["items"])
    seen = api.client.get("/api/v1/contacts", headers={"Authorization": f"Bearer {key}"})
    assert seen.status_code == 200
    bad = api.post("/api/v1/keys", json={"name": "x", "scopes": ["send"]})
    assert bad.status_code == 422
    assert bad.json()["field"] == "scopes"


def test_contacts_page_with_cursors_search_and_change(api: Api) -> None:
    ids = [
        api.post(
            "/api/v1/contacts", json={"phone": f"09123456{i:02d}", "name": f"Khách {i}"}
        ).json()["id"]
        for i in range(5)
    ]
    first = api.get("/api/v1/contacts", params={"limit": 2}).json()
    assert [c["id"] for c in first["items"]] == [ids[4], ids[3]]
    second = api.get("/api/v1/contacts", params={"limit": 2, "cursor": first["next_cursor"]})
    assert [c["id"] for c in second.json()["items"]] == [ids[2], ids[1]]
    third = api.get(
        "/api/v1/contacts", params={"limit": 2, "cursor": second.json()["next_cursor"]}
    ).json()
    assert [c["id"] for c in third["items"]] == [ids[0]]
    assert third["next_cursor"] is None
    bad = api.get("/api/v1/contacts", params={"cursor": "%%%"})
    assert (bad.status_code, bad.json()["field"]) == (422, "cursor")

    found = api.get("/api/v1/contacts", params={"q": "khách 3"}).json()["items"]
    assert [c["phone"] for c in found] == ["+84912345603"]
    changed = api.client.patch(
        f"/api/v1/contacts/{ids[3]}", json={"province": "Hà Nội"}, headers=api.auth()
    )
    assert changed.json()["province"] == "Hà Nội"
    taken = api.post("/api/v1/contacts", json={"phone": "+84912345603"})
    assert taken.status_code == 409
    assert taken.json()["message"] == (
        f"Đã có liên hệ với số +84912345603 (#{ids[3]}); sửa liên hệ đó bằng PATCH "
        f"/api/v1/contacts/{ids[3]}."
    )


def test_import_reports_each_invalid_row(api: Api) -> None:
    csv = "Họ tên,Số điện thoại\nNguyễn Văn An,0912345678\nTrần Bảo,12345\nLê Chí,0987654321\n"
    answer = api.post(
        "/api/v1/contacts/import",
        files={"file": ("khach.csv", csv.encode(), "text/csv")},
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["rows"], report["imported"], report["invalid"]) == (3, 2, 1)
    assert len(report["errors"]) == 1
    error = report["errors"][0]
    assert (error["line"], error["value"]) == (3, "12345")
    with api.store.engine.connect() as conn:
        n = conn.execute(
            select(func.count()).where(contacts.c.workspace_id == api.store.workspace_id)
        ).scalar_one()
    assert n == 2


def test_export_and_erase_are_audited_and_erase_removes_the_person(api: Api) -> None:
    made = api.post("/api/v1/contacts", json={"phone": "0912345678", "name": "An"}).json()
    api.post("/api/v1/events", json={"phone": "0912345678", "type": "order", "value_vnd": 1})
    exported = api.get(f"/api/v1/contacts/{made['id']}/export")
    assert exported.status_code == 200
    assert exported.json()["contact"]["phone"] == "+84912345678"
    erased = api.client.delete(f"/api/v1/contacts/{made['id']}", headers=api.auth())
    assert erased.status_code == 200
    assert api.get(f"/api/v1/contacts/{made['id']}").status_code == 404
    with api.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 0
    log = api.get("/api/v1/audit").json()["items"]
    done = [(e["actor"], e["action"]) for e in log]
    assert ("key:all", "contacts.export_person") in done
    assert ("key:all", "contacts.forget") in done or any("forget" in a for _, a in done)
    # Phones never appear whole in the audit log.
    assert "+84912345678" not in str(log)


def test_events_batch_answers_each_event_on_its_own(api: Api) -> None:
    api.post("/api/v1/contacts", json={"phone": "0912345678"})
    answer = api.post(
        "/api/v1/events/batch",
        json={
            "events": [
                {"phone": "0912345678", "type": "order", "value_vnd": 100, "external_id": "o1"},
                {"phone": "0912345678", "type": "order", "value_vnd": 100, "external_id": "o1"},
                {"phone": "0999", "type": "order"},
            ]
        },
    )
    assert answer.status_code == 200
    body = answer.json()
    assert (body["recorded"], body["duplicates"], body["failed"]) == (1, 1, 1)
    assert body["results"][2]["error"]["code"]


def test_a_retried_post_with_the_same_idempotency_key_creates_once(api: Api) -> None:
    headers = {"Idempotency-Key": "tao-khach-1"}
    first = api.post("/api/v1/contacts", json={"phone": "0912345678"}, headers=headers)
    again = api.post("/api/v1/contacts", json={"phone": "0912345678"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    with api.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(contacts)).scalar_one() == 1
    other_body = api.post("/api/v1/contacts", json={"phone": "0987654321"}, headers=headers)
    assert other_body.status_code == 422
    assert other_body.json()["code"] == "idempotency.key_reused"
    # Keys belong to a workspace: the other workspace may use the same one.
    there = api.post("/api/v1/contacts", who="other", json={"phone": "0912345678"}, headers=headers)
    assert there.status_code == 201
    assert there.json()["id"] != first.json()["id"]


def test_segments_count_and_preview(api: Api) -> None:
    for i in range(3):
        api.post("/api/v1/contacts", json={"phone": f"09123456{i:02d}", "province": "Hà Nội"})
    api.post("/api/v1/contacts", json={"phone": "0987654321", "province": "Huế"})
    rule = {"attr": "province", "op": "eq", "value": "Hà Nội"}
    counted = api.post("/api/v1/segments/count", json={"rule": rule})
    assert counted.status_code == 200, counted.text
    assert counted.json() == {"count": 3}
    made = api.post("/api/v1/segments", json={"name": "ha-noi", "rule": rule})
    assert made.status_code == 201, made.text
    assert api.get("/api/v1/segments/ha-noi").json()["count"] == 3
    preview = api.get("/api/v1/segments/ha-noi/preview", params={"limit": 2}).json()["items"]
    assert len(preview) == 2


def test_phone_numbers_are_masked_in_log_lines() -> None:
    import logging

    from loa.api.logs import PhoneMasking, mask_phones

    assert mask_phones('GET /api/v1/contacts?q=0912345678 "200"') == (
        'GET /api/v1/contacts?q=+8491****678 "200"'
    )
    assert mask_phones("from +84 912 345 678 and %2B84912345678, order 20261123") == (
        "from +8491****678 and +8491****678, order 20261123"
    )
    record = logging.LogRecord(
        "loa", logging.INFO, __file__, 1, "reply from %s", ("+84912345678",), None
    )
    assert PhoneMasking().filter(record)
    assert record.getMessage() == "reply from +8491****678"


def test_a_user_sets_up_totp_and_then_signs_in_with_the_code(api: Api) -> None:
    import pyotp

    csrf = api.sign_in("tu@shop.vn")
    wrong = api.client.post(
        "/api/v1/auth/totp", json={"password": "khong-phai"}, headers={"X-CSRF-Token": csrf}
    )
    assert wrong.status_code == 401
    made = api.client.post(
        "/api/v1/auth/totp", json={"password": "mat-khau-rat-dai"}, headers={"X-CSRF-Token": csrf}
    )
    assert made.status_code == 200
    secret = pyotp.parse_uri(made.json()["otpauth_uri"]).secret
    body = {"email": "tu@shop.vn", "password": "mat-khau-rat-dai"}
    asked = api.client.post("/api/v1/auth/sign-in", json=body)
    assert (asked.status_code, asked.json()["field"]) == (401, "totp_code")
    assert asked.json()["message"] == "Nhập mã 6 số từ ứng dụng xác thực (trường totp_code)."
    ok = api.client.post(
        "/api/v1/auth/sign-in", json={**body, "totp_code": pyotp.TOTP(secret).now()}
    )
    assert ok.status_code == 200
    by_key = api.post("/api/v1/auth/totp", json={"password": "x"})
    assert by_key.status_code == 403
