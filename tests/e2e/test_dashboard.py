"""A marketer's whole afternoon in a real browser (Debian's Chromium driven by Playwright):
sign in, import a file, build a segment, compose, plan, start, watch the campaign complete
against the sandbox SMSC, and read its report. A browser that cannot start fails the test."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page, expect, sync_playwright
from tests.integration.smpp_peers import Peer, sandbox

from loa.config import Settings
from loa.server import create_app
from loa.services.accounts import create_user
from loa.services.compliance.brandnames import add_brandname
from loa.services.compliance.templates import add_template
from loa.services.dispatch.routes import add_route
from loa.store.db import open_store

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
EMAIL = "marketer@shop.vn"
PASSWORD = "mật-khẩu-đủ-dài-123"
MESSAGE = "Don hang cua quy khach da duoc giao. Cam on quy khach!"
CSV = (
    "Họ tên,Số điện thoại,Tỉnh\n"
    "Nguyễn Văn An,0912345678,Hà Nội\n"
    "Trần Thị Bình,0987654321,Hà Nội\n"
    "Lê Văn Cường,0903123456,Đà Nẵng\n"
    "Phạm Thị Dung,0388123456,Hà Nội\n"
    "Số sai,12345,Hà Nội\n"
)


@dataclass
class Running:
    url: str
    smsc: Peer
    csv: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    """The dashboard (uvicorn, in this process), a dispatch worker and the sandbox SMSC."""
    db_url = f"sqlite:///{tmp_path / 'loa.db'}"
    store = open_store(db_url)
    with store.engine.begin() as conn:
        create_user(
            conn, workspace_id=store.workspace_id, email=EMAIL, password=PASSWORD, role="owner"
        )
    add_brandname(
        store,
        "SHOPABC",
        domains=["shop.vn"],
        optout_keyword="TC",
        optout_shortcode="6020",
        hotline="19001234",
    )
    add_template(store, "giao-hang", cls="cskh", text=MESSAGE, approved=True)
    csv = tmp_path / "khach-hang.csv"
    csv.write_text(CSV, encoding="utf-8")
    with sandbox(tmp_path / "smsc", "--receipt-delay", "0.01", "0.1") as smsc:
        with store.engine.begin() as conn:
            add_route(
                conn,
                workspace_id=store.workspace_id,
                name="sandbox",
                kind="smpp",
                settings={
                    "host": "127.0.0.1",
                    "port": smsc.port,
                    "system_id": "loa",
                    "password": "loa",
                },
                window=50,
                tps=None,
            )
        port = free_port()
        # As `loa serve` runs it: the dashboard and a dispatch worker in one process.
        app = create_app(Settings(database_url=db_url), store=store, worker=True)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 15
            while not server.started:
                assert time.monotonic() < deadline, "the dashboard did not start"
                time.sleep(0.05)
            yield Running(f"http://127.0.0.1:{port}", smsc, csv)
        finally:
            server.should_exit = True
            thread.join(10)
            store.engine.dispose()


def test_a_marketer_imports_segments_composes_sends_and_reads_the_report(
    running: Running,
) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15_000)
            walk_through(page, running)
            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.context.add_cookies(page.context.cookies())
            on_a_phone(phone, running)
        finally:
            browser.close()


def walk_through(page: Page, running: Running) -> None:
    base = running.url
    # Sign in: a wrong password says so, the right one opens today's overview.
    page.goto(f"{base}/contacts")
    expect(page).to_have_url(re.compile(r"/login\?next=/contacts$"))
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Mật khẩu", exact=True).fill("không-phải-mật-khẩu")
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_role("alert")).to_have_text("Email hoặc mật khẩu không đúng.")
    page.get_by_label("Mật khẩu", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_role("heading", name="Khách hàng (0)")).to_be_visible()

    # Import: the progress bar runs, then the report names the bad row.
    page.get_by_label("Tệp CSV hoặc XLSX").set_input_files(running.csv)
    page.get_by_role("button", name="Nhập", exact=True).click()
    expect(page.locator("#import-report")).to_be_visible()
    expect(page.locator("#imported")).to_have_text("4")
    expect(page.locator("#invalid")).to_have_text("1")
    expect(page.locator("#import-errors tbody tr")).to_have_count(1)
    expect(page.locator("#import-errors tbody tr td").nth(2)).to_have_text("12345")

    # Segment: the builder counts live as the condition is typed.
    page.get_by_role("link", name="Phân khúc", exact=True).click()
    page.get_by_role("button", name="+ Thêm điều kiện").click()
    row = page.locator("[data-row]").first
    row.get_by_label("Trường").select_option("province")
    row.get_by_label("Giá trị").fill("Hà Nội")
    expect(page.locator("[data-count]")).to_have_text("3 khách hàng")
    page.get_by_label("Tên phân khúc").fill("ha-noi")
    page.get_by_role("button", name="Lưu phân khúc").click()
    expect(page.locator(".flash")).to_have_text("Đã lưu phân khúc 'ha-noi': 3 khách hàng.")

    # Compose inside the wizard: live parts, encoding, cost and the phone preview.
    page.goto(f"{base}/campaigns/new?segment=ha-noi")
    page.get_by_label("Tên chiến dịch").fill("Giao hàng tháng 11")
    composer = page.locator("[data-compose]")
    page.get_by_label("Nội dung tin nhắn").fill("Giảm 20% tại https://bit.ly/km")
    expect(composer.locator('[data-out="warnings"] li').last).to_have_text(
        "Liên kết rút gọn 'bit.ly' che giấu địa chỉ thật; hãy dùng liên kết đầy đủ."
    )
    expect(composer.locator('[data-out="preview"]')).to_have_text(
        "[QC] Giảm 20% tại https://bit.ly/km. Tu choi QC soan TC gui 6020, goi 19001234"
    )
    page.get_by_label("Loại tin").select_option("cskh")
    page.get_by_label("Nội dung tin nhắn").fill(MESSAGE)
    expect(composer.locator('[data-out="parts"]')).to_have_text("1")
    expect(composer.locator('[data-out="encoding"]')).to_have_text("GSM-7")
    expect(composer.locator('[data-out="chars"]')).to_have_text(str(len(MESSAGE)))
    expect(composer.locator('[data-out="audience"]')).to_have_text("3 người nhận")
    expect(composer.locator('[data-out="preview"]')).to_have_text(MESSAGE)
    expect(composer.locator('[data-out="sender"]')).to_have_text("SHOPABC")
    expect(composer.locator('[data-out="cost"]')).to_have_text(re.compile(r"^[1-9][\d.]* ₫$"))
    page.get_by_role("button", name="Tạo chiến dịch").click()
    expect(page.locator(".flash")).to_have_text("Đã tạo chiến dịch. Bước tiếp: lập kế hoạch.")

    # Plan, then start, then watch it complete without reloading by hand.
    page.get_by_role("button", name="Lập kế hoạch").click()
    expect(page.locator("#plan-audience")).to_have_text("3")
    expect(page.locator("#plan-send")).to_have_text("3")
    page.get_by_role("button", name="Gửi", exact=True).click()
    expect(page.locator("#campaign-state")).to_have_text("Hoàn tất", timeout=30_000)
    expect(page.locator("#delivered-count")).to_have_text("3")
    assert len({line["dest"] for line in running.smsc.journal_lines()}) == 3

    # The report: figures and charts drawn inline.
    page.get_by_role("link", name="Xem báo cáo").click()
    expect(page.locator("#r-sent")).to_have_text("3")
    expect(page.locator("#r-delivered")).to_have_text("3")
    expect(page.locator("#r-rate")).to_have_text("100,0%")
    assert page.locator("svg.chart").count() == 4
    page.get_by_role("link", name=re.compile("^Phân tích chi tiết")).click()
    expect(page.locator("#a-delivery")).to_have_text("100,0%")
    page.go_back()

    # The same person reads it in English.
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name=re.compile("^Report: #"))).to_be_visible()


def on_a_phone(page: Page, running: Running) -> None:
    """The same dashboard on a phone: the menu folds away, the keyboard reaches everything."""
    page.goto(f"{running.url}/")
    nav = page.get_by_role("navigation", name="Main navigation")
    expect(nav).to_be_hidden()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    page.get_by_role("button", name="Menu").click()
    expect(nav).to_be_visible()
    nav.get_by_role("link", name="Campaigns").click()
    expect(page.get_by_role("link", name="Giao hàng tháng 11")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
