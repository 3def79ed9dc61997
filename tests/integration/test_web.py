"""The dashboard through HTTP (FastAPI's TestClient), on SQLite and PostgreSQL: signing in,
CSRF, every screen in Vietnamese and English, the import job, segments, the composer, and a
campaign up to its plan report."""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from loa.config import Settings
from loa.server import create_app
from loa.services.accounts import create_user
from loa.services.compliance.brandnames import add_brandname
from loa.store.db import Store
from loa.store.tables import audit_log, outbox, workspaces

with warnings.catch_warnings():
    # Starlette asks for its httpx fork (httpx2), which is not installed; plain httpx works.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PASSWORD = "mật-khẩu-đủ-dài-123"
CSV = (
    "Họ tên,Số điện thoại,Tỉnh\n"
    "Nguyễn Văn An,0912345678,Hà Nội\n"
    "Trần Thị Bình,0987654321,Hà Nội\n"
    "Lê Văn Cường,0903123456,Đà Nẵng\n"
    "Phạm Dũng,12345,Hà Nội\n"
)


@dataclass
class Web:
    client: TestClient
    store: Store

    def csrf(self, path: str = "/") -> str:
        """The page's CSRF token, as its forms and scripts carry it."""
        html = self.client.get(path).text
        found = re.search(r'name="csrf-token" content="([^"]+)"', html)
        assert found, html[:500]
        return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> Any:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token.group(1), "next": "/"},
        follow_redirects=False,
    )


def user(
    store: Store, email: str, role: str = "owner", lang: str = "vi", ws: int | None = None
) -> None:
    with store.engine.begin() as conn:
        create_user(
            conn,
            workspace_id=ws or store.workspace_id,
            email=email,
            password=PASSWORD,
            role=role,
            lang=lang,
        )


@pytest.fixture
def web(store: Store, db_url: str) -> Iterator[Web]:
    user(store, "owner@shop.vn")
    add_brandname(
        store,
        "SHOPABC",
        domains=["shop.vn"],
        optout_keyword="TC",
        optout_shortcode="6020",
        hotline="19001234",
    )
    app = create_app(Settings(database_url=db_url), store=store)
    with TestClient(app) as client:
        assert sign_in(client, "owner@shop.vn").status_code == 303
        yield Web(client, store)


def test_a_stranger_is_sent_to_sign_in_and_sees_why_a_password_fails(
    store: Store, db_url: str
) -> None:
    user(store, "owner@shop.vn")
    app = create_app(Settings(database_url=db_url), store=store)
    with TestClient(app) as client:
        first = client.get("/contacts?q=An", follow_redirects=False)
        assert first.status_code == 303
        assert first.headers["location"] == "/login?next=/contacts%3Fq%3DAn"
        page = client.get(first.headers["location"])
        assert "Đăng nhập Loa" in page.text and 'lang="vi"' in page.text
        assert "Sign in to Loa" in client.get("/login?lang=en").text
        client.cookies.clear()
        wrong = sign_in(client, "owner@shop.vn", "sai-mật-khẩu-rồi")
        assert wrong.status_code == 401
        assert "Email hoặc mật khẩu không đúng." in wrong.text
        right = sign_in(client, "owner@shop.vn")
        assert right.status_code == 303
        cookie = right.headers["set-cookie"]
        assert "loa_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert client.get("/").status_code == 200
        again = client.get("/login?next=/segments", follow_redirects=False)
        assert again.headers["location"] == "/segments"  # already signed in: straight on
        token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").text)
        assert token
        out = client.post("/logout", data={"csrf_token": token.group(1)}, follow_redirects=False)
        assert out.headers["location"] == "/login"
        assert client.get("/", follow_redirects=False).status_code == 303


def test_a_form_without_the_session_csrf_token_is_refused(web: Web) -> None:
    rule = '{"all": []}'
    missing = web.client.post("/segments", data={"name": "x", "rule": rule})
    assert missing.status_code == 403
    assert "biểu mẫu không hợp lệ (CSRF)" in missing.text
    forged = web.client.post("/segments", data={"name": "x", "rule": rule, "csrf_token": "forged"})
    assert forged.status_code == 403
    script = web.client.post("/segments/count", json={"rule": rule})
    assert script.status_code == 403
    good = web.client.post(
        "/segments/count", json={"rule": rule}, headers={"X-CSRF-Token": web.csrf()}
    )
    assert good.json() == {"count": 0, "text": "0 khách hàng"}


SCREENS = {
    "/": ("Hôm nay", "Today"),
    "/contacts": ("Nhập từ tệp", "Import a file"),
    "/segments": ("Tạo phân khúc", "Build a segment"),
    "/segments/vip": ("Những khách đầu tiên", "First members"),
    "/compose": ("Soạn tin nhắn", "Compose a message"),
    "/campaigns": ("Tạo chiến dịch", "New campaign"),
    "/campaigns/new": ("Lịch gửi", "Schedule"),
    "/settings": ("Bảng giá mỗi tin (phần)", "Prices per part"),
    "/settings/people": ("Nhật ký kiểm toán", "Audit log"),
}


def test_every_screen_renders_in_vietnamese_then_in_english(web: Web) -> None:
    for path, (vi, _en) in SCREENS.items():
        page = web.client.get(path)
        assert page.status_code == 200, path
        assert vi in page.text, path
        assert 'lang="vi"' in page.text
    switched = web.client.post(
        "/account/lang",
        data={"lang": "en", "next": "/contacts", "csrf_token": web.csrf()},
        follow_redirects=False,
    )
    assert switched.headers["location"] == "/contacts"
    for path, (_vi, en) in SCREENS.items():
        page = web.client.get(path)
        assert page.status_code == 200, path
        assert en in page.text, path
        assert 'lang="en"' in page.text


def wait_for_import(web: Web, location: str) -> str:
    job = location.rsplit("/", 1)[1]
    deadline = time.monotonic() + 30
    while True:
        status = web.client.get(f"/contacts/import/{job}/status").json()
        if status["state"] != "running":
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status["state"] == "done", status
    return web.client.get(location).text


def test_an_import_runs_in_the_background_and_reports_each_bad_row(web: Web) -> None:
    started = web.client.post(
        "/contacts/import",
        data={"csrf_token": web.csrf(), "on_conflict": "update"},
        files={"file": ("khach.csv", CSV.encode(), "text/csv")},
        follow_redirects=False,
    )
    assert started.status_code == 303
    report = wait_for_import(web, started.headers["location"])
    assert re.search(r'id="imported">3<', report)
    assert re.search(r'id="invalid">1<', report)
    assert '<td class="num">5</td><td>Số điện thoại</td><td>12345</td>' in report
    errors = web.client.get(started.headers["location"] + "/errors.csv")
    assert errors.status_code == 200 and "12345" in errors.text
    found = web.client.get("/contacts?q=0912 345 678")
    assert "Nguyễn Văn An" in found.text and "Trần Thị Bình" not in found.text
    person = web.client.get("/contacts/+84912345678")
    assert person.status_code == 200 and "Nguyễn Văn An" in person.text


def seed(web: Web) -> None:
    started = web.client.post(
        "/contacts/import",
        data={
            "csrf_token": web.csrf(),
            "consent": "sms:marketing",
            "consent_method": "form",
            "consent_evidence": "form 2025",
        },
        files={"file": ("khach.csv", CSV.encode(), "text/csv")},
        follow_redirects=False,
    )
    wait_for_import(web, started.headers["location"])


def test_a_segment_is_counted_live_and_saved(web: Web) -> None:
    seed(web)
    token = web.csrf("/segments")
    rule = '{"all": [{"attr": "province", "op": "eq", "value": "Hà Nội"}]}'
    live = web.client.post("/segments/count", json={"rule": rule}, headers={"X-CSRF-Token": token})
    assert live.json() == {"count": 2, "text": "2 khách hàng"}
    bad = web.client.post(
        "/segments/count", json={"rule": '{"attr": "tinh"}'}, headers={"X-CSRF-Token": token}
    )
    assert bad.status_code == 400
    assert bad.json()["error"] == (
        'rule thiếu khóa \'op\'; ví dụ: {"attr": "province", "op": "eq", "value": "Hà Nội"}.'
    )
    saved = web.client.post(
        "/segments",
        data={"csrf_token": token, "name": "ha-noi", "rule": rule},
    )
    assert "Đã lưu phân khúc &#39;ha-noi&#39;: 2 khách hàng." in saved.text
    shown = web.client.get("/segments/ha-noi")
    assert "+84912345678" in shown.text and "+84903123456" not in shown.text


def test_the_composer_counts_parts_prices_the_audience_and_warns(web: Web) -> None:
    seed(web)
    token = web.csrf("/compose")
    answer = web.client.post(
        "/compose/preview",
        json={"text": "Giảm 20% hôm nay", "cls": "qc", "sender": "SHOPABC", "segment": "all"},
        headers={"X-CSRF-Token": token},
    ).json()
    framed = "[QC] Giảm 20% hôm nay. Tu choi QC soan TC gui 6020, goi 19001234"
    assert answer["text"] == framed
    assert answer["with_accents"]["encoding"] == "UCS-2"
    assert answer["with_accents"]["parts"] == 1
    assert answer["without_accents"]["encoding"] == "GSM-7"
    assert answer["audience"] == 3
    assert answer["sender"] == "SHOPABC"
    assert answer["cost_vnd"] > 0 and answer["cost_text"].endswith(" ₫")
    risky = web.client.post(
        "/compose/preview",
        json={"text": "Giảm 20% tại http://bit.ly/km", "cls": "qc", "sender": "SHOPABC"},
        headers={"X-CSRF-Token": token},
    ).json()
    assert [w["code"] for w in risky["warnings"]] == [
        "insecure_link",
        "link_not_verified",
        "shortener",
    ]
    assert risky["warnings"][1]["message"] == (
        "Liên kết tới 'bit.ly' không thuộc tên miền đã xác minh của brandname 'SHOPABC' (shop.vn)."
    )
    personal = web.client.post(
        "/compose/preview",
        json={"text": "Chào {{ given_name }}, đơn đã giao", "cls": "cskh", "segment": "all"},
        headers={"X-CSRF-Token": token},
    ).json()
    assert personal["text"] == "Chào Cường, đơn đã giao"  # the first contact by id
    assert personal["example"] == "Lê Văn Cường"
    broken = web.client.post(
        "/compose/preview",
        json={"text": "Chào {{ given_name ", "cls": "cskh", "segment": "all"},
        headers={"X-CSRF-Token": token},
    ).json()
    assert broken["warnings"][0]["level"] == "bad"


def test_a_campaign_is_created_in_the_wizard_and_planned(web: Web) -> None:
    seed(web)
    token = web.csrf("/campaigns/new")
    created = web.client.post(
        "/campaigns",
        data={
            "csrf_token": token,
            "name": "Khai trương",
            "include": "all",
            "cls": "qc",
            "sender": "SHOPABC",
            "text": "Khai truong giam 20%",
            "schedule": "now",
            "budget_vnd": "1.000.000",
            "holdout_pct": "0",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    page = web.client.get(created.headers["location"])
    assert "Đã tạo chiến dịch" in page.text
    cid = created.headers["location"].split("/")[2].split("?")[0]
    planned = web.client.post(f"/campaigns/{cid}/plan", data={"csrf_token": token})
    assert 'id="plan-audience">3<' in planned.text
    ab = web.client.post(
        "/campaigns",
        data={"csrf_token": token, "name": "A/B", "include": "all", "cls": "qc",
              "sender": "SHOPABC", "text": "Giam 20%", "text_b": "Giam 30%", "share_a": "70"},
        follow_redirects=False,
    )  # fmt: skip
    ab_id = ab.headers["location"].split("/")[2].split("?")[0]
    shown = web.client.get(f"/campaigns/{ab_id}").text
    assert "<b>A (70%)</b>: Giam 20%" in shown and "<b>B (30%)</b>: Giam 30%" in shown
    replanned = web.client.post(f"/campaigns/{ab_id}/plan", data={"csrf_token": token})
    assert 'id="plan-audience">3<' in replanned.text
    report = web.client.get(f"/campaigns/{ab_id}/report").text
    with web.store.engine.connect() as conn:
        drawn = dict(
            conn.execute(
                select(outbox.c.variant, func.count())
                .where(outbox.c.campaign_id == int(ab_id))
                .group_by(outbox.c.variant)
            ).all()
        )
    assert set(drawn) <= {"A", "B"} and sum(drawn.values()) == 3  # a seeded 70/30 draw
    assert 'id="variants"' in report
    deep = web.client.get(f"/campaigns/{ab_id}/analysis")
    assert deep.status_code == 200 and "Thử nghiệm A/B" in deep.text
    if set(drawn) == {"A", "B"}:  # three people: the draw may give everyone one version
        assert "<b>B</b> so với <b>A</b>" in deep.text
    else:
        assert "Chưa có hai phiên bản để so sánh." in deep.text
    for variant in drawn:
        assert f"<td>{variant}</td>" in report
    bad = web.client.post(
        "/campaigns",
        data={
            "csrf_token": token,
            "name": "X",
            "include": "all",
            "cls": "qc",
            "sender": "SHOPABC",
            "text": "x",
            "budget_vnd": "nhiều",
        },
    )
    assert bad.status_code == 400
    assert "&#39;nhiều&#39; ở ô Ngân sách không phải số nguyên" in bad.text


def test_one_workspace_never_sees_another_workspaces_import(web: Web, store: Store) -> None:
    with store.engine.begin() as conn:
        other = conn.execute(
            insert(workspaces).values(slug="other", name="Other").returning(workspaces.c.id)
        ).scalar_one()
    user(store, "spy@other.vn", ws=int(other))
    started = web.client.post(
        "/contacts/import",
        data={"csrf_token": web.csrf()},
        files={"file": ("khach.csv", CSV.encode(), "text/csv")},
        follow_redirects=False,
    )
    location = started.headers["location"]
    wait_for_import(web, location)
    spy = TestClient(web.client.app)
    assert sign_in(spy, "spy@other.vn").status_code == 303
    assert spy.get(location + "/status").status_code == 404
    assert "Nguyễn Văn An" not in spy.get("/contacts").text
    with store.engine.connect() as conn:
        actions = conn.execute(select(audit_log.c.action, audit_log.c.actor)).all()
    assert ("contacts.import", "owner@shop.vn") in [tuple(a) for a in actions]


def test_the_static_files_are_served_here(web: Web) -> None:
    css = web.client.get("/static/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert web.client.get("/static/../__init__.py").status_code == 404
    assert "http://" not in web.client.get("/").text.replace("http://www.w3.org", "")


def create_and_plan(client: TestClient, token: str, name: str) -> str:
    created = client.post(
        "/campaigns",
        data={
            "csrf_token": token,
            "name": name,
            "include": "all",
            "cls": "qc",
            "sender": "SHOPABC",
            "text": "Khai truong giam 20%",
            "schedule": "now",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    cid = created.headers["location"].split("/")[2].split("?")[0]
    planned = client.post(f"/campaigns/{cid}/plan", data={"csrf_token": token})
    assert 'id="plan-audience">3<' in planned.text
    return cid


def test_a_large_campaign_waits_for_a_second_persons_approval(web: Web, store: Store) -> None:
    seed(web)
    rules = web.client.post(
        "/settings/rules",
        data={"csrf_token": web.csrf(), "approvals": "1", "approval_min_recipients": "1",
              "usual_hours_start": "0", "usual_hours_end": "24", "lockout_after": "5",
              "lockout_minutes": "15", "session_hours": "12", "min_gap_hours": "36"},
    )  # fmt: skip
    assert "Đã lưu." in rules.text
    assert 'name="min_gap_hours" inputmode="numeric" value="36"' in rules.text
    late = web.client.post(
        "/settings/rules",
        data={"csrf_token": web.csrf(), "approval_min_recipients": "nhiều"},
    )
    assert "&#39;nhiều&#39; ở ô approval_min_recipients không phải số nguyên" in late.text
    user(store, "marketer@shop.vn", role="marketer")
    marketer = TestClient(web.client.app)
    assert sign_in(marketer, "marketer@shop.vn").status_code == 303
    token = Web(marketer, store).csrf("/campaigns/new")
    cid = create_and_plan(marketer, token, "Khai trương lớn")
    asked = marketer.post(f"/campaigns/{cid}/start", data={"csrf_token": token})
    assert asked.status_code == 400
    assert (
        "Chiến dịch cần người thứ hai duyệt trước khi gửi (3 người nhận, trên ngưỡng 1). "
        "Đã gửi yêu cầu duyệt." in asked.text
    )
    self_approve = marketer.post(f"/campaigns/{cid}/approve", data={"csrf_token": token})
    assert self_approve.status_code == 403
    assert "Vai trò của bạn (marketer) không được phép làm việc này (campaigns:approve)" in (
        self_approve.text
    )
    owner_page = web.client.get(f"/campaigns/{cid}")
    assert "Đang chờ duyệt, yêu cầu bởi marketer@shop.vn" in owner_page.text
    approved = web.client.post(
        f"/campaigns/{cid}/approve", data={"csrf_token": web.csrf()}, follow_redirects=False
    )
    assert approved.headers["location"] == f"/campaigns/{cid}?done=approved"
    started = marketer.post(
        f"/campaigns/{cid}/start", data={"csrf_token": token}, follow_redirects=False
    )
    assert started.headers["location"] == f"/campaigns/{cid}?done=scheduled"
    assert "Đã bắt đầu gửi." in marketer.get(started.headers["location"]).text


def test_an_analyst_reads_but_cannot_create(web: Web, store: Store) -> None:
    user(store, "analyst@shop.vn", role="analyst", lang="en")
    analyst = TestClient(web.client.app)
    assert sign_in(analyst, "analyst@shop.vn").status_code == 303
    assert "Today" in analyst.get("/").text  # the analyst chose English
    token = Web(analyst, store).csrf("/segments")
    refused = analyst.post(
        "/segments",
        data={"csrf_token": token, "name": "x", "rule": '{"all": []}'},
        headers={"Accept": "text/html"},
    )
    assert refused.status_code == 403
    assert "<h1>Cannot do that</h1>" in refused.text
    assert "Your role (analyst) may not do this (segments:write); ask the workspace owner." in (
        refused.text
    )
    script = analyst.post("/segments/count", json={"rule": "all"}, headers={"X-CSRF-Token": "x"})
    assert script.status_code == 403
    assert script.json() == {
        "error": "The session expired or the form is not valid (CSRF): reload the page and try "
        "again."
    }


def test_settings_add_a_brandname_a_user_and_a_key_shown_once(web: Web) -> None:
    token = web.csrf("/settings")
    added = web.client.post(
        "/settings/brandnames",
        data={"csrf_token": token, "name": "CAFE88", "domains": "cafe88.vn",
              "optout_keyword": "TC", "optout_shortcode": "6020", "hotline": "19008888"},
    )  # fmt: skip
    assert "Đã lưu." in added.text and "cafe88.vn" in added.text
    priced = web.client.post(
        "/settings/prices", data={"csrf_token": token, "price:Viettel:qc": "999"}
    )
    assert 'name="price:Viettel:qc" value="999"' in priced.text
    wrong = web.client.post(
        "/settings/prices", data={"csrf_token": token, "price:Viettel:qc": "rẻ"}
    )
    assert "&#39;rẻ&#39; ở ô Viettel qc không phải số nguyên" in wrong.text
    bad = web.client.post(
        "/settings/users",
        data={"csrf_token": token, "email": "new@shop.vn", "password": "ngắn", "role": "analyst"},
    )
    assert bad.status_code == 400
    assert "Mật khẩu cần ít nhất 10 ký tự." in bad.text
    made = web.client.post(
        "/settings/users",
        data={"csrf_token": token, "email": "new@shop.vn", "password": PASSWORD,
              "role": "analyst"},
    )  # fmt: skip
    assert "new@shop.vn" in made.text
    key_page = web.client.post(
        "/settings/keys",
        data={"csrf_token": token, "name": "POS", "scopes": ["events:write", "contacts:read"]},
    )
    key = re.search(r'<code id="new-key">([^<]+)</code>', key_page.text)
    assert key is not None
    again = web.client.get("/settings/people").text
    assert key.group(1) not in again and "contacts:read, events:write" in again


def test_a_person_is_exported_then_erased_with_the_legal_records_kept(web: Web) -> None:
    seed(web)
    token = web.csrf("/contacts/+84912345678")
    exported = web.client.post("/contacts/+84912345678/export", data={"csrf_token": token})
    assert exported.status_code == 200
    data = exported.json()
    assert data["contact"]["name"] == "Nguyễn Văn An"
    assert data["consents"][0]["evidence"] == "form 2025"
    unconfirmed = web.client.post("/contacts/+84912345678/forget", data={"csrf_token": token})
    assert unconfirmed.status_code == 400
    erased = web.client.post(
        "/contacts/+84912345678/forget", data={"csrf_token": token, "confirm": "1"}
    )
    assert (
        "Đã xoá hồ sơ. Vẫn giữ 1 bản ghi đồng ý làm bằng chứng và 0 yêu cầu từ chối" in erased.text
    )
    gone = web.client.get("/contacts/+84912345678")
    assert gone.status_code == 404
    assert "Không có khách hàng nào có số +84912345678 trong workspace này." in gone.text
