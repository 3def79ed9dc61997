"""Vouchers on a real store (SQLite, and PostgreSQL when configured): issue, redeem once,
refuse a second use, and let only one of two simultaneous redemptions win."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from typer.testing import CliRunner

from loa.cli import app
from loa.domain.vouchers import normalize_code
from loa.i18n import LoaError
from loa.services.vouchers import (
    batch_summaries,
    expiry_from_date,
    find_voucher,
    issue_vouchers,
    list_vouchers,
    redeem_voucher,
)
from loa.store.db import Store, open_store
from loa.store.tables import audit_log, contacts, vouchers

NOW = datetime(2026, 1, 20, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam


def add_contacts(store: Store, *phones_and_provinces: tuple[str, str]) -> list[int]:
    with store.engine.begin() as conn:
        add = insert(contacts).returning(contacts.c.id)
        return [
            conn.execute(
                add.values(workspace_id=store.workspace_id, phone=phone, province=province)
            ).scalar_one()
            for phone, province in phones_and_provinces
        ]


def issue(store: Store, **options: Any) -> Any:
    with store.engine.begin() as conn:
        return issue_vouchers(
            conn, workspace_id=store.workspace_id, actor="test", now=NOW, **options
        )


def redeem(store: Store, code: str, by: str = "cua-hang-q1", now: datetime = NOW) -> Any:
    with store.engine.connect() as conn:
        try:
            return redeem_voucher(
                conn, workspace_id=store.workspace_id, code=code, by=by, actor="test", now=now
            )
        finally:
            conn.commit()


def test_issue_to_a_segment_gives_each_member_one_code_once(store: Store) -> None:
    ids = add_contacts(
        store, ("+84912345678", "Hà Nội"), ("+84987654321", "Hà Nội"), ("+84901234567", "Huế")
    )
    rule = {"attr": "province", "op": "eq", "value": "Hà Nội"}
    report = issue(store, batch="tet-2026", segment=rule, value="50.000đ", prefix="tet")
    assert (report.batch, report.issued, report.already_held) == ("tet-2026", 2, 0)
    with store.engine.connect() as conn:
        listed = list_vouchers(conn, workspace_id=store.workspace_id, batch="tet-2026")
    assert sorted((v.contact_id, v.phone, v.value) for v in listed) == [
        (ids[0], "+84912345678", "50.000đ"),
        (ids[1], "+84987654321", "50.000đ"),
    ]
    assert all(normalize_code(v.code) == v.code and v.code.startswith("TET-") for v in listed)
    # Issuing the batch again reaches only the member who has none yet.
    add_contacts(store, ("+84933333333", "Hà Nội"))
    again = issue(store, batch="tet-2026", segment=rule, value="50.000đ", prefix="tet")
    assert (again.issued, again.already_held) == (1, 2)
    with store.engine.connect() as conn:
        per_contact = conn.execute(
            select(vouchers.c.contact_id, func.count())
            .where(vouchers.c.batch == "tet-2026")
            .group_by(vouchers.c.contact_id)
        ).all()
        entries = conn.execute(
            select(audit_log.c.action, audit_log.c.target, audit_log.c.details).order_by(
                audit_log.c.id
            )
        ).all()
    assert sorted(n for _, n in per_contact) == [1, 1, 1]
    assert [(a, t, d["issued"], d["already_held"]) for a, t, d in entries] == [
        ("vouchers.issue", "tet-2026", 2, 0),
        ("vouchers.issue", "tet-2026", 1, 2),
    ]


def test_redeem_once_then_refuse_saying_when_and_by_whom(store: Store) -> None:
    (code,) = issue(store, batch="khai-truong", count=1, value="Giảm 10%").codes
    used = redeem(store, code.lower().replace("-", " "), by="quay-1")
    assert (used.code, used.redeemed_at, used.redeemed_by) == (code, NOW, "quay-1")
    with pytest.raises(LoaError) as err:
        redeem(store, code, by="quay-2", now=NOW + timedelta(hours=2))
    assert err.value.render() == (
        f"Mã '{code}' đã được dùng lúc 20/01/2026 10:00 (giờ Việt Nam) bởi quay-1. Mỗi mã chỉ "
        "dùng được một lần."
    )
    with store.engine.connect() as conn:
        row = conn.execute(select(vouchers.c.redeemed_by, vouchers.c.redeemed_at)).one()
        entries = conn.execute(
            select(audit_log.c.action, audit_log.c.target, audit_log.c.details)
            .where(audit_log.c.action.like("vouchers.redeem%"))
            .order_by(audit_log.c.id)
        ).all()
    assert tuple(row) == ("quay-1", NOW)  # the refused attempt changed nothing
    assert [tuple(e) for e in entries] == [
        ("vouchers.redeem", code, {"batch": "khai-truong", "by": "quay-1"}),
        ("vouchers.redeem_refused", code, {"reason": "vouchers.already_used", "by": "quay-2"}),
    ]


def test_unknown_mistyped_and_expired_codes_are_told_apart(store: Store) -> None:
    expires_at = expiry_from_date(date(2026, 1, 31))
    (code,) = issue(store, batch="b", count=1, expires_at=expires_at).codes
    # Another well-formed code that was never issued here.
    unknown = "2222-2222-2222"
    with pytest.raises(LoaError) as err:
        redeem(store, unknown)
    assert err.value.render() == (
        "Không có mã '2222-2222-2222' trong workspace này. Mã đúng định dạng nhưng chưa được phát "
        "hành ở đây: kiểm tra workspace (--workspace) hoặc hỏi bên phát hành."
    )
    swapped = code[1] + code[0] + code[2:] if code[0] != code[1] else code[:-1] + "2"
    with pytest.raises(LoaError) as err:
        redeem(store, swapped)
    assert err.value.code == "vouchers.mistyped_check"
    with pytest.raises(LoaError) as err:
        redeem(store, code, now=datetime(2026, 1, 31, 17, 0, tzinfo=UTC))  # 00:00 on 1 Feb
    assert err.value.render() == (
        f"Mã '{code}' đã hết hạn: chỉ dùng được đến 31/01/2026 23:59 (giờ Việt Nam)."
    )
    # One minute earlier it is still good.
    assert redeem(store, code, now=datetime(2026, 1, 31, 16, 59, tzinfo=UTC)).code == code
    with store.engine.connect() as conn:
        reasons = conn.execute(
            select(audit_log.c.details["reason"].as_string())
            .where(audit_log.c.action == "vouchers.redeem_refused")
            .order_by(audit_log.c.id)
        ).scalars()
        assert list(reasons) == [
            "vouchers.unknown",
            "vouchers.mistyped_check",
            "vouchers.expired",
        ]


def test_codes_belong_to_their_workspace(store: Store) -> None:
    (code,) = issue(store, batch="b", count=1).codes
    with store.engine.begin() as conn:
        conn.execute(insert(vouchers.metadata.tables["workspaces"]).values(slug="x", name="X"))
    other = open_store(store.engine.url.render_as_string(hide_password=False), "x")
    try:
        with pytest.raises(LoaError) as err:
            redeem(other, code)
        assert err.value.code == "vouchers.unknown"
    finally:
        other.engine.dispose()


def test_two_tills_redeeming_at_once_only_one_wins(store: Store) -> None:
    codes = issue(store, batch="race", count=5).codes
    for code in codes:
        barrier = threading.Barrier(2)
        outcomes: dict[str, str] = {}

        def till(
            name: str,
            code: str = code,
            barrier: threading.Barrier = barrier,
            outcomes: dict[str, str] = outcomes,
        ) -> None:
            barrier.wait()
            try:
                redeem(store, code, by=name)
                outcomes[name] = "ok"
            except LoaError as exc:
                outcomes[name] = exc.code

        threads = [threading.Thread(target=till, args=(n,)) for n in ("till-a", "till-b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(outcomes.values()) == ["ok", "vouchers.already_used"], outcomes
        with store.engine.connect() as conn:
            winner = find_voucher(conn, workspace_id=store.workspace_id, code=code).redeemed_by
        assert outcomes[winner or ""] == "ok"


def test_refusals_before_anything_is_written(store: Store) -> None:
    with pytest.raises(LoaError) as err:
        issue(store, batch="b", count=0)
    assert err.value.render() == "Số mã cần phát hành phải từ 1 đến 1.000.000, đang là 0."
    with pytest.raises(LoaError) as err:
        issue(store, batch="b", count=1, segment="all")
    assert err.value.code == "vouchers.no_target"
    with pytest.raises(LoaError) as err:
        issue(store, batch="b", count=1, expires_at=expiry_from_date(date(2026, 1, 1)))
    assert err.value.render() == (
        "Hạn dùng đến 01/01/2026 23:59 đã qua: chọn một ngày từ hôm nay trở đi."
    )
    with pytest.raises(LoaError) as err:
        issue(store, batch="b", segment="no-such-segment")
    assert err.value.code == "segments.unknown"
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(vouchers)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(audit_log)).scalar_one() == 0


def test_a_large_batch_is_stored_whole_and_counted(store: Store) -> None:
    report = issue(store, batch="lon", count=5000, expires_at=expiry_from_date(date(2026, 2, 1)))
    assert report.issued == len(set(report.codes)) == 5000
    redeem(store, report.codes[0])
    with store.engine.connect() as conn:
        (summary,) = batch_summaries(
            conn, workspace_id=store.workspace_id, now=datetime(2026, 3, 1, tzinfo=UTC)
        )
        stored = set(conn.execute(select(vouchers.c.code)).scalars())
    assert stored == set(report.codes)
    assert (summary.batch, summary.issued, summary.redeemed, summary.expired) == (
        "lon", 5000, 1, 4999
    )  # fmt: skip
    assert summary.expires_at == expiry_from_date(date(2026, 2, 1))


def test_cli_issue_redeem_list_and_qr(db_url: str, tmp_path: Any) -> None:
    runner = CliRunner()

    def cli(*args: str) -> Any:
        return runner.invoke(app, ["--db", db_url, *args])

    issued = cli("vouchers", "issue", "--batch", "tet", "--count", "2", "--value", "50.000đ",
                 "--prefix", "TET", "--expires", "2099-02-01", "--json")  # fmt: skip
    assert issued.exit_code == 0, issued.output
    codes = json.loads(issued.output)["codes"]
    assert len(codes) == 2
    ok = cli("vouchers", "redeem", codes[0], "--by", "quay-1")
    assert ok.exit_code == 0, ok.output
    assert " ".join(ok.output.split()).startswith(f"✓ Mã {codes[0]} hợp lệ: 50.000đ.")
    again = cli("--lang", "en", "vouchers", "redeem", codes[0], "--by", "quay-2", "--json")
    assert again.exit_code == 1
    refusal = json.loads(again.output)
    assert (refusal["ok"], refusal["reason"]) == (False, "vouchers.already_used")
    assert refusal["message"].endswith("by quay-1. Each code can be used only once.")
    listed = json.loads(cli("vouchers", "list", "--json").output)
    assert [(b["batch"], b["issued"], b["redeemed"]) for b in listed] == [("tet", 2, 1)]
    table = " ".join(cli("vouchers", "list", "--batch", "tet").output.split())
    assert codes[1] in table and "01/02/2099 23:59" in table
    png = tmp_path / "qr.png"
    saved = cli("vouchers", "qr", codes[1].lower(), "-o", str(png))
    assert saved.exit_code == 0, saved.output
    assert png.read_bytes().startswith(b"\x89PNG")
    bad = cli("vouchers", "qr", codes[1], "-o", str(tmp_path / "qr.gif"))
    assert isinstance(bad.exception, LoaError)
    assert bad.exception.render() == (
        f"Tệp QR phải có đuôi .png hoặc .svg, không phải '{tmp_path / 'qr.gif'}'."
    )
