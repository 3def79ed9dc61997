"""Three compliance duties on a real store: the copy of a QC campaign to 5656, customer-care
templates without promotion, and an erasure that keeps the proof the anti-spam law asks for."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, insert, select, update
from typer.testing import CliRunner, Result

from loa.cli import app
from loa.config import Settings
from loa.domain.privacy import phone_fingerprint
from loa.i18n import LoaError
from loa.services.campaigns.planner import plan_campaign
from loa.services.campaigns.service import (
    CampaignSpec,
    Variant,
    change_state,
    create_campaign,
    equal_variants,
)
from loa.services.compliance.authority import authority_copies
from loa.services.compliance.brandnames import add_brandname
from loa.services.compliance.check import check_message
from loa.services.compliance.export import export_compliance
from loa.services.compliance.inbound import receive_inbound
from loa.services.compliance.templates import add_template, list_templates
from loa.services.contacts.people import forget_person
from loa.store.db import Store
from loa.store.tables import (
    audit_log,
    channel_states,
    consents,
    contact_tags,
    contacts,
    dnc_imports,
    dnc_numbers,
    events,
    opt_outs,
    outbox,
    workspaces,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 23, 14, 0, tzinfo=VN)  # Monday 14:00 in Vietnam
QC = "Chao {{ given_name }}, giam 20% don hang hom nay tai shop.vn"
FOOTER = ". Tu choi QC soan TC gui 6058, goi 19001234"
AN, BAO, CHI = "+84912345671", "+84982345672", "+84902345673"
ON = Settings(copy_qc_to_5656=True)
OFF = Settings()

Cli = Callable[..., Result]


def add(conn: Connection, ws: int, phone: str, *, consent: bool = True, **values: Any) -> int:
    cid = conn.execute(
        insert(contacts).values(workspace_id=ws, phone=phone, **values).returning(contacts.c.id)
    ).scalar_one()
    if consent:
        conn.execute(
            insert(consents).values(
                workspace_id=ws, contact_id=cid, channel="sms", purpose="marketing",
                method="web_form", evidence="form #1", given_at=NOW - timedelta(days=30),
                source="shop.vn/dang-ky",
            )
        )  # fmt: skip
    return int(cid)


@pytest.fixture
def book(store: Store) -> Store:
    add_brandname(
        store, "SHOPABC", domains=["shop.vn"], registered_on=date(2025, 1, 1),
        optout_keyword="TC", optout_shortcode="6058", hotline="19001234",
    )  # fmt: skip
    with store.engine.begin() as conn:
        add(conn, store.workspace_id, AN, name="Nguyễn Văn An", given_name="An")
        add(conn, store.workspace_id, BAO, name="Trần Thị Bảo", given_name="Bao")
        add(conn, store.workspace_id, CHI, name="Lê Chí", given_name="Chi")
    return store


def campaign(store: Store, **overrides: Any) -> int:
    values: dict[str, Any] = {
        "name": "Sale", "cls": "qc", "sender": "SHOPABC", "include": ("all",),
        "variants": equal_variants([QC]), "seed": 7,
    }  # fmt: skip
    values.update(overrides)
    with store.engine.begin() as conn:
        return create_campaign(
            conn, workspace_id=store.workspace_id, spec=CampaignSpec(**values), actor="t", now=NOW
        )


def schedule(store: Store, cid: int, settings: Settings) -> int:
    """Plan and schedule a campaign the way the start path does; the copies it queued."""
    plan_campaign(store, cid, actor="t", now=NOW)
    with store.engine.begin() as conn:
        change_state(conn, workspace_id=store.workspace_id, campaign_id=cid, to="scheduled",
                     actor="t", now=NOW)  # fmt: skip
        return authority_copies(
            conn, workspace_id=store.workspace_id, campaign_id=cid, settings=settings, now=NOW
        )


def copies(store: Store) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                outbox.c.idempotency_key, outbox.c.phone, outbox.c["class"], outbox.c.sender,
                outbox.c.variant, outbox.c.text, outbox.c.status, outbox.c.scheduled_at,
            )
            .where(outbox.c.phone == "5656")
            .order_by(outbox.c.id)
        ).all()  # fmt: skip
    return [tuple(r) for r in rows]


# --- the copy to 5656 ---------------------------------------------------------------------------


def test_a_scheduled_qc_campaign_copies_to_5656_exactly_once(book: Store) -> None:
    cid = campaign(book)
    assert schedule(book, cid, ON) == 1
    with book.engine.begin() as conn:
        again = authority_copies(conn, workspace_id=book.workspace_id, campaign_id=cid,
                                 settings=ON, now=NOW)  # fmt: skip
        first = conn.execute(
            select(outbox.c.text, outbox.c.scheduled_at, outbox.c.variant)
            .where(outbox.c.campaign_id == cid, outbox.c.phone != "5656")
            .order_by(outbox.c.scheduled_at, outbox.c.id)
        ).first()
    assert again == 0
    assert first is not None
    # The text as the first recipient gets it, due when that first message is.
    assert first.text in {
        f"[QC] Chao {name}, giam 20% don hang hom nay tai shop.vn{FOOTER}"
        for name in ("An", "Bao", "Chi")
    }
    assert copies(book) == [
        (f"copy5656:c{cid}:A", "5656", "authority", "SHOPABC", "A", first.text, "queued",
         first.scheduled_at),
    ]  # fmt: skip


def test_each_variant_of_the_advertisement_is_copied(book: Store) -> None:
    variants = (Variant("A", QC, 50), Variant("B", "Chao {{ given_name }}, dong gia 99k", 50))
    cid = campaign(book, variants=variants)
    assert schedule(book, cid, ON) == 2
    assert sorted((c[4], c[5].split(",", 1)[1]) for c in copies(book)) == [
        ("A", " giam 20% don hang hom nay tai shop.vn" + FOOTER),
        ("B", " dong gia 99k" + FOOTER),
    ]


def test_no_copy_when_the_setting_is_off_or_the_campaign_is_not_advertising(book: Store) -> None:
    assert schedule(book, campaign(book), OFF) == 0
    care = "Don hang cua {{ given_name }} da duoc giao. SHOPABC"
    add_template(book, "delivered", cls="cskh", text=care, approved=True)
    cskh = campaign(book, name="Giao hang", cls="cskh", template="delivered",
                    variants=equal_variants([care]))  # fmt: skip
    assert schedule(book, cskh, ON) == 0
    with book.engine.connect() as conn:
        sent = conn.execute(
            select(outbox.c.phone).where(outbox.c.campaign_id == cskh, outbox.c.decision == "send")
        ).all()
    assert len(sent) == 3  # the care messages go; no copy of them does
    assert copies(book) == []


def test_no_copy_in_a_market_without_the_authority_number(book: Store) -> None:
    cid = campaign(book)
    plan_campaign(book, cid, actor="t", now=NOW)
    with book.engine.begin() as conn:
        conn.execute(update(workspaces).values(policy_pack="us"))
        assert authority_copies(conn, workspace_id=book.workspace_id, campaign_id=cid,
                                settings=ON, now=NOW) == 0  # fmt: skip
    assert copies(book) == []


def test_settings_document_and_read_the_5656_option(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().copy_qc_to_5656 is False
    monkeypatch.setenv("LOA_COPY_QC_TO_5656", "true")
    assert Settings().copy_qc_to_5656 is True
    description = Settings.model_fields["copy_qc_to_5656"].description
    assert description is not None and "Decree 91/2020 Art 5.2" in description


# --- customer care carries no promotion ---------------------------------------------------------

PROMO_VI = (
    "Mẫu CSKH 'thanks' có nội dung quảng cáo: 'Giảm giá', 'voucher'. Tin chăm sóc khách hàng "
    "không được quảng cáo: hãy đăng ký mẫu này là QC (--class qc, có [QC] ở đầu và hướng dẫn từ "
    "chối ở cuối), hoặc bỏ các từ đó."
)
PROMO_EN = (
    "The CSKH template 'thanks' carries promotion: 'Giảm giá', 'voucher'. Customer care may not "
    "advertise: register it as QC (--class qc, with [QC] first and the opt-out line last), or "
    "remove the wording."
)
THANKS = "Cảm ơn {{ name }}! Giảm giá 10% với voucher {{ code }} cho lần sau."


def test_a_cskh_template_with_promotion_is_refused_naming_the_words(store: Store) -> None:
    with pytest.raises(LoaError) as error:
        add_template(store, "thanks", cls="cskh", text=THANKS, approved=True)
    assert error.value.code == "templates.cskh_promotion"
    assert (error.value.render(), error.value.render("en")) == (PROMO_VI, PROMO_EN)
    assert list_templates(store) == []
    # As advertising the same words are allowed; a clean care template may not become promotion.
    assert add_template(store, "thanks", cls="qc", text=THANKS).cls == "qc"
    add_template(
        store, "paid", cls="cskh", text="Don {{ id }} da thanh toan. Hotline mien phi 1800"
    )
    with pytest.raises(LoaError):
        add_template(store, "paid", cls="cskh", text="Don {{ id }} giam gia", replace=True)
    assert [(t.name, t.cls, t.text) for t in list_templates(store)] == [
        ("paid", "cskh", "Don {{ id }} da thanh toan. Hotline mien phi 1800"),
        ("thanks", "qc", THANKS),
    ]


def test_variables_are_not_judged_only_the_approved_words(store: Store) -> None:
    text = "Ma {{ voucher_code }} cua {{ name }} da duoc su dung {% if sale %}hom nay{% endif %}."
    assert add_template(store, "used", cls="cskh", text=text).name == "used"


def test_check_refuses_promotion_in_care_even_from_an_approved_template(store: Store) -> None:
    add_brandname(store, "SHOPABC", domains=["shop.vn"])
    add_template(store, "order", cls="cskh", text="Don {{ id }} da xac nhan. {{ note }}",
                 approved=True)  # fmt: skip
    result = check_message(store, "Don DH-1 da xac nhan. Tang voucher 50K!", "SHOPABC", "cskh")
    assert result.to_dict("en") == {
        "allowed": False,
        "reasons": [
            {"code": "cskh_promotion",
             "message": "A customer-care (CSKH) message may not carry promotion: 'voucher'. Send "
                        "it as advertising (QC) with [QC] first and the opt-out line last, or "
                        "remove the wording."},
        ],
        "template": "order",
    }  # fmt: skip
    assert check_message(store, "Don DH-1 da xac nhan. Cam on!", "SHOPABC", "cskh").allowed


@pytest.fixture
def cli(db_url: str) -> Cli:
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["--db", db_url, *args])


def flat(output: str) -> str:
    return " ".join(output.split())


def test_cli_refuses_the_template_and_check_exits_1(cli: Cli) -> None:
    refused = cli("--lang", "en", "templates", "add", "thanks", "--class", "cskh",
                  "--text", THANKS, "--approved")  # fmt: skip
    assert isinstance(refused.exception, LoaError)
    assert refused.exception.render() == PROMO_EN
    assert json.loads(cli("templates", "list", "--json").stdout) == []
    cli("brandnames", "add", "SHOPABC", "--domains", "shop.vn")
    checked = cli("compliance", "check", "--text", "Flash sale: mua 1 tang 1 chi hom nay",
                  "--sender", "SHOPABC", "--class", "cskh", "--json")  # fmt: skip
    assert checked.exit_code == 1
    reasons = json.loads(checked.stdout)["reasons"]
    assert [r["code"] for r in reasons] == ["template_not_approved", *["cskh_promotion"] * 3]
    assert [r["message"].split("'")[1] for r in reasons[1:]] == [
        "Flash sale", "mua 1 tang 1", "chi hom nay",
    ]  # fmt: skip


# --- erasure keeps the proof ----------------------------------------------------------------------


def people_rows(store: Store, phone: str) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            name: len(conn.execute(select(table).where(table.c.phone == phone)).all())
            for name, table in (("contacts", contacts), ("opt_outs", opt_outs))
        }


def test_forget_erases_the_profile_and_the_refusal_still_suppresses(book: Store) -> None:
    ws = book.workspace_id
    with book.engine.begin() as conn:
        an = conn.execute(select(contacts.c.id).where(contacts.c.phone == AN)).scalar_one()
        conn.execute(update(contacts).where(contacts.c.id == an).values(attrs={"size": "M"}))
        conn.execute(insert(contact_tags).values(contact_id=an, tag="vip", workspace_id=ws))
        conn.execute(insert(events).values(workspace_id=ws, contact_id=an, type="order",
                                           occurred_at=NOW, value_vnd=250_000))  # fmt: skip
    # An replies TC: an opt-out by number, the channel opted out, the consent withdrawn.
    received = NOW - timedelta(days=2)
    receive_inbound(book, AN, "TC", to="6058", received_at=received, now=received)

    done = forget_person(book, "0912 345 671", actor="t")

    assert (done.phone, done.removed, done.opt_outs, done.opt_outs_moved, done.consents) == (
        AN,
        {"tags": 1, "channels": 1, "consents": 1, "events": 1, "stats": 0, "contact": 1},
        1, 0, 1,
    )  # fmt: skip
    assert people_rows(book, AN) == {"contacts": 0, "opt_outs": 1}
    with book.engine.connect() as conn:
        entry = conn.execute(
            select(audit_log.c.target, audit_log.c.details).where(
                audit_log.c.action == "contacts.forget"
            )
        ).one()
    assert entry.target == "+8491****671"
    assert "Nguyễn" not in json.dumps(entry.details, ensure_ascii=False)
    assert entry.details["fingerprint"] == phone_fingerprint(AN)
    (consent,) = entry.details["consents"]
    assert {k: consent[k] for k in ("channel", "purpose", "method", "evidence", "source")} == {
        "channel": "sms", "purpose": "marketing", "method": "web_form", "evidence": "form #1",
        "source": "shop.vn/dang-ky",
    }  # fmt: skip
    assert consent["withdrawn_at"] is not None

    # The shop imports its book again, An with a fresh consent: An still gets no advertising.
    with book.engine.begin() as conn:
        add(conn, ws, AN, name="Nguyễn Văn An", given_name="An")
    cid = campaign(book)
    plan_campaign(book, cid, actor="t", now=NOW)
    with book.engine.connect() as conn:
        decided = dict(
            conn.execute(
                select(outbox.c.phone, outbox.c.reasons).where(outbox.c.campaign_id == cid)
            ).all()
        )
    assert decided == {AN: ["opted_out"], BAO: [], CHI: []}


def test_refusals_kept_only_on_the_profile_move_to_the_number(book: Store) -> None:
    ws = book.workspace_id
    changed = NOW - timedelta(days=9)
    with book.engine.begin() as conn:
        bao = conn.execute(select(contacts.c.id).where(contacts.c.phone == BAO)).scalar_one()
        conn.execute(insert(channel_states).values(contact_id=bao, channel="sms", workspace_id=ws,
                                                   status="opted_out", changed_at=changed,
                                                   method="import"))  # fmt: skip
        conn.execute(
            update(contacts).where(contacts.c.phone == CHI).values(dnc=True, updated_at=changed)
        )
        imported = conn.execute(
            insert(dnc_imports)
            .values(workspace_id=ws, source="dnc.txt", list_date=date(2026, 11, 20), numbers=1)
            .returning(dnc_imports.c.id)
        ).scalar_one()
        conn.execute(insert(dnc_numbers).values(workspace_id=ws, phone=AN, import_id=imported))

    assert forget_person(book, BAO, actor="t").opt_outs_moved == 1
    chi = forget_person(book, CHI, actor="t")
    assert (chi.opt_outs, chi.opt_outs_moved, chi.on_dnc_list) == (1, 1, False)
    an = forget_person(book, AN, actor="t")
    assert (an.opt_outs, an.opt_outs_moved, an.on_dnc_list) == (0, 0, True)
    with book.engine.connect() as conn:
        kept = conn.execute(
            select(opt_outs.c.phone, opt_outs.c.channel, opt_outs.c.scope, opt_outs.c.source,
                   opt_outs.c.received_at).order_by(opt_outs.c.phone)
        ).all()  # fmt: skip
        listed = conn.execute(select(dnc_numbers.c.phone)).scalars().all()
    assert [tuple(k)[:4] for k in kept] == [
        (CHI, "sms", "all", "dnc-flag"),
        (BAO, "sms", "all", "import"),
    ]
    assert kept[1].received_at == changed
    assert listed == [AN]
    with book.engine.begin() as conn:
        add(conn, ws, AN, given_name="An")
        add(conn, ws, BAO, given_name="Bao")
        add(conn, ws, CHI, given_name="Chi")
    cid = campaign(book)
    plan_campaign(book, cid, actor="t", now=NOW)
    with book.engine.connect() as conn:
        decided = dict(
            conn.execute(
                select(outbox.c.phone, outbox.c.reasons).where(outbox.c.campaign_id == cid)
            ).all()
        )
    assert decided == {AN: ["dnc"], BAO: ["opted_out"], CHI: ["opted_out"]}


def test_the_inspector_still_gets_the_consent_of_an_erased_person(
    book: Store, tmp_path: Path
) -> None:
    forget_person(book, AN, actor="t")
    path = tmp_path / "inspect.csv"
    report = export_compliance(book, date(2026, 10, 1), date(2026, 10, 31), path)
    assert report.counts["consent"] == 3
    with path.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["kind"] == "consent"]
    erased = [r for r in rows if "erased:" in r["reference"]]
    assert [(r["phone"], r["method"], r["evidence"], r["at"], r["reference"].split()[1])
            for r in erased] == [
        ("+8491****671", "web_form", "form #1", "2026-10-24T14:00:00+07:00",
         f"erased:{phone_fingerprint(AN)}"),
    ]  # fmt: skip


def test_cli_forget_says_what_was_kept_and_why(cli: Cli, book: Store) -> None:
    assert cli("inbound", "0912345671", "TC", "--to", "6058").exit_code == 0
    result = cli("contacts", "forget", "0912345671", "--yes")
    assert result.exit_code == 0, result.output
    assert flat(result.stdout) == (
        "✓ Đã xoá hồ sơ của +84912345671: tags=0, channels=1, consents=1, events=0, stats=0, "
        "contact=1. Việc xoá đã ghi vào nhật ký kiểm toán. Vẫn giữ 1 bản ghi đồng ý làm bằng "
        "chứng, trong nhật ký kiểm toán theo mã băm một chiều "
        f"{phone_fingerprint(AN)}: Nghị định 91/2020 (Điều 11.7) buộc lưu bản ghi đồng ý và từ "
        "chối ít nhất 1 năm, và Luật 91/2025 cho phép giữ dữ liệu cần để chứng minh việc gửi là "
        "hợp pháp. Vẫn giữ 1 yêu cầu từ chối quảng cáo theo số điện thoại, để số này không nhận "
        "quảng cáo nữa, kể cả khi được nhập lại."
    )
    english = cli("--lang", "en", "contacts", "forget", BAO, "--yes")
    assert flat(english.stdout) == (
        "✓ Erased the profile of +84982345672: tags=0, channels=0, consents=1, events=0, "
        "stats=0, contact=1. The erasure is recorded in the audit log. Kept 1 consent records as "
        f"evidence, in the audit log under the one-way token {phone_fingerprint(BAO)}: Decree "
        "91/2020 (Art 11.7) requires keeping consents and refusals at least 1 year, and Law "
        "91/2025 allows keeping what proves the sending was lawful."
    )
    assert people_rows(book, BAO) == {"contacts": 0, "opt_outs": 0}
