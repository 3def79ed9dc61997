"""`loa compliance`, `brandnames`, `templates`, `dnc` and `inbound` as a user types them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from loa.cli import app
from loa.i18n import LoaError

Cli = Callable[..., Result]
HIJACK = "Tai khoan cua ban se bi khoa, dang nhap tai https://vietcombank-secure.top"


@pytest.fixture
def cli(db_url: str) -> Cli:
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["--db", db_url, *args])


def flat(output: str) -> str:
    return " ".join(output.split())


def test_check_json_refuses_the_hijack_with_exit_code_1(cli: Cli) -> None:
    assert cli("brandnames", "add", "VCB", "--domains", "vietcombank.com.vn").exit_code == 0
    result = cli("--lang", "en", "compliance", "check", "--text", HIJACK, "--sender", "VCB",
                 "--class", "cskh", "--json")  # fmt: skip
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "allowed": False,
        "reasons": [
            {"code": "template_not_approved",
             "message": "A customer-care message must match an approved template."},
            {"code": "link_not_verified",
             "message": "The link to 'vietcombank-secure.top' is not on a verified domain of "
                        "brandname 'VCB' (vietcombank.com.vn)."},
            {"code": "lookalike_domain",
             "message": "The domain 'vietcombank-secure.top' imitates Vietcombank "
                        "(its real domain: vietcombank.com.vn)."},
            {"code": "risky_tld",
             "message": "The domain 'vietcombank-secure.top' uses .top, a suffix common in scams."},
        ],
        "template": None,
    }  # fmt: skip


def test_check_allowed_qc_exits_0(cli: Cli) -> None:
    cli("brandnames", "add", "SHOPABC", "--domains", "shop.vn,m.shop.vn")
    text = "[QC] Giam 50% tai https://m.shop.vn/sale. Tu choi QC soan TC gui 6020, goi 19001234."
    result = cli("compliance", "check", "--text", text, "--sender", "SHOPABC", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"allowed": True, "reasons": [], "template": None}
    shown = cli("compliance", "check", "--text", "Sale", "--sender", "SHOPABC")
    assert shown.exit_code == 1
    assert flat(shown.stdout) == (
        "✗ Không được gửi (2 lý do): • missing_label: Tin quảng cáo phải bắt đầu bằng [QC] / [AD]. "
        "• missing_optout: Tin quảng cáo phải kết thúc bằng hướng dẫn từ chối (SMS và gọi điện)."
    )


def test_brandnames_and_templates_lists(cli: Cli) -> None:
    added = cli(
        "brandnames",
        "add",
        "SHOPABC",
        "--domains",
        "shop.vn",
        "--carriers",
        "Viettel",
        "--expires",
        "2027-01-01",
        "--optout-keyword",
        "tc",
        "--shortcode",
        "6020",
    )
    assert flat(added.stdout) == "Đã lưu brandname 'SHOPABC'; liên kết chỉ được tới: shop.vn."
    listed = json.loads(cli("brandnames", "list", "--json").stdout)
    assert listed == [
        {"name": "SHOPABC", "domains": ["shop.vn"], "carriers": ["Viettel"], "registered_on": None,
         "expires_on": "2027-01-01", "optout_keyword": "TC", "optout_shortcode": "6020",
         "hotline": None}
    ]  # fmt: skip
    bad = cli("brandnames", "add", "X1", "--domains", "shop.vn", "--expires", "01/01/2027")
    assert isinstance(bad.exception, LoaError)
    assert bad.exception.render() == "--expires '01/01/2027' không phải ngày dạng YYYY-MM-DD."
    t = cli(
        "--lang",
        "en",
        "templates",
        "add",
        "order_ok",
        "--class",
        "cskh",
        "--text",
        "Don hang {{ order.id }} da xac nhan",
        "--approved",
        "--carriers",
        "Viettel",
    )
    assert flat(t.stdout) == "Saved template 'order_ok' (cskh, approved by Viettel)."
    assert json.loads(cli("templates", "list", "--json").stdout) == [
        {"name": "order_ok", "class": "cskh", "text": "Don hang {{ order.id }} da xac nhan",
         "approved": True, "approved_carriers": ["Viettel"], "otp": False}
    ]  # fmt: skip
    ok = cli("compliance", "check", "--text", "Don hang DH9 da xac nhan", "--sender", "SHOPABC",
             "--class", "cskh")  # fmt: skip
    assert (ok.exit_code, flat(ok.stdout)) == (0, "✓ Được phép gửi. Khớp mẫu 'order_ok'.")


def test_inbound_tc_then_again(cli: Cli) -> None:
    cli("brandnames", "add", "SHOPABC", "--domains", "shop.vn")
    first = json.loads(cli("inbound", "0912345678", "TC", "--json").stdout)
    assert (first["intent"], first["scope"], first["already_opted_out"]) == (
        "opt_out",
        "all",
        False,
    )
    assert first["reply_text"].startswith("SHOPABC: Da nhan yeu cau tu choi quang cao cua ban luc ")
    again = cli("inbound", "0912345678", "Từ chối")
    assert flat(again.stdout) == (
        "+8491****678 đã từ chối từ trước (mọi quảng cáo); không gửi xác nhận lần hai."
    )
    nothing = json.loads(cli("inbound", "0912345679", "Tôi muốn mua", "--json").stdout)
    assert (nothing["intent"], nothing["reply_id"]) == ("none", None)


def test_dnc_import_and_status(cli: Cli, tmp_path: Path) -> None:
    never = json.loads(cli("dnc", "status", "--json").stdout)
    assert never["warning"]["code"] == "dnc.never_imported"
    path = tmp_path / "dnc.txt"
    path.write_text("0912345678\n0912345678\nabc\n")
    result = cli("--lang", "en", "dnc", "import", str(path), "--date", "2025-06-01")
    assert result.exit_code == 0
    assert flat(result.stdout) == (
        "Replaced the DNC list with 1 numbers (dated 01/06/2025); 1 invalid lines, 1 duplicates."
    )
    assert "line 3: 'abc': Not a phone number" in flat(result.stderr)
    status = json.loads(cli("dnc", "status", "--json").stdout)
    assert (status["list_date"], status["numbers"]) == ("2025-06-01", 1)
    assert status["warning"]["code"] == "dnc.stale"


def test_export_command(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    result = cli(
        "compliance", "export", "--from", "2025-01-01", "--to", "2025-12-31", "-o", str(out)
    )
    assert result.exit_code == 0
    assert out.read_text().splitlines() == [
        "kind,phone,channel,purpose,brandname,method,evidence,at,effective_at,ended_at,text,"
        "source,reference"
    ]
